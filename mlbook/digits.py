"""The MNIST chapter's two browser widgets, and the Python references their modules mirror.

:class:`SoftmaxTrainer` trains softmax regression in the reader's browser on a small sample of
digits shipped with the page (``mlbook/js/softmax_trainer.js``): any learning rate η, batch size
and seed; the ten weight templates form as it runs, next to the training loss and the accuracy.
:func:`train_softmax` is the exact loop the browser runs, in NumPy.

:class:`DrawDigit` classifies a digit the reader draws (``mlbook/js/draw_digit.js``) with the
chapter's trained :func:`mlbook.mnist.small_cnn`, whose weights travel in the page. The drawing is
prepared the way MNIST's digits were: LeCun et al. (1998) scaled each digit to fit a 20 × 20 box,
keeping its aspect ratio (anti-aliasing made grey levels), and placed it in a 28 × 28 field with
its centre of mass at the centre. :func:`rasterise`, :func:`preprocess` and :func:`cnn_forward`
are the browser's three steps, in NumPy; the tests check them against the browser and PyTorch.

Reproducible runs in two languages need one random generator in both: :class:`Mulberry32`
(Tommy Ettinger's mulberry32, a 32-bit generator in the public domain), never ``Math.random``
or NumPy's generators.
"""

from __future__ import annotations

import base64
import math
import numbers
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import traitlets

from mlbook.plotting import DIVERGING_CMAP, PALETTE
from mlbook.widgets import BookWidget, check_learning_rate, figure_fallback

SIDE = 28                      # MNIST images are SIDE × SIDE pixels
PIXELS = SIDE * SIDE
CLASSES = 10
MAX_SAMPLE = 2000              # images per set a trainer ships (each adds ~0.2 kB to the page)
MAX_LEARNING_RATE = 100.0
MAX_EPOCHS = 100
CHART_POINTS = 200             # a run measures its loss about this many times
# A run has diverged once its training loss exceeds this: twenty times the loss of the untrained
# model, ln 10 (cross-entropy grows with the weights instead of overflowing, so it never
# becomes infinite by itself).
DIVERGED_LOSS = 20 * math.log(CLASSES)
CANVAS = 280                   # the drawing's side, in its own pixels
BRUSH = 10.0                   # the pen's radius, in drawing pixels
BOX = 20                       # MNIST scaled each digit to fit a BOX × BOX box
MAX_POINTS = 20_000            # points in a drawing (to keep the page's state small)
MAX_WEIGHT_BYTES = 150_000     # the most bytes the CNN's exported weights may take
SMALL_PNG_COLORS = 64          # fallback pictures travel in the page: 64 colours, ~¼ the bytes


# --- one random generator for Python and the browser ---------------------------------------------

_UINT32 = 0xFFFFFFFF


class Mulberry32:
    """Tommy Ettinger's mulberry32: 32 bits of state, uniform numbers in [0, 1).

    Written with 32-bit integer arithmetic only, so the browser's copy (``mulberry32`` in
    ``softmax_trainer.js``) draws exactly the same numbers for the same seed.
    """

    def __init__(self, seed: int):
        self.state = _seed(seed)

    def random(self) -> float:
        self.state = (self.state + 0x6D2B79F5) & _UINT32
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & _UINT32
        t ^= (t + (((t ^ (t >> 7)) * (t | 61)) & _UINT32)) & _UINT32
        return ((t ^ (t >> 14)) & _UINT32) / 4294967296

    def permutation(self, n: int) -> np.ndarray:
        """A shuffle of 0, ..., n − 1: Fisher–Yates, swapping each i from the end with a j ≤ i."""
        order = np.arange(n)
        for i in range(n - 1, 0, -1):
            j = int(self.random() * (i + 1))
            order[i], order[j] = order[j], order[i]
        return order


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not (
            0 <= seed <= _UINT32):
        raise ValueError(f"the seed must be a whole number from 0 to {_UINT32}, got {seed!r}.")
    return int(seed)


# --- softmax regression: the loop the browser runs -----------------------------------------------

def _images(images, name: str = "images") -> np.ndarray:
    array = np.asarray(images)
    if array.dtype != np.uint8:
        raise TypeError(f"{name} must hold grey levels 0 to 255 as uint8, like "
                        f"load_mnist().data; got dtype {array.dtype}.")
    if array.ndim != 3 or array.shape[1:] != (SIDE, SIDE) or len(array) == 0:
        raise ValueError(f"{name} must be N × {SIDE} × {SIDE} with N ≥ 1; got shape "
                         f"{array.shape}.")
    if len(array) > MAX_SAMPLE:
        raise ValueError(f"{name} holds {len(array):,} images; a widget ships at most "
                         f"{MAX_SAMPLE:,} to keep the page light. Pass a slice, e.g. "
                         f"images[:1000].")
    return array


def _labels(labels, n: int, name: str = "labels") -> np.ndarray:
    array = np.asarray(labels)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must be {n} whole numbers, one per image; got "
                         f"{array.dtype} with shape {array.shape}.")
    if array.min() < 0 or array.max() >= CLASSES:
        raise ValueError(f"{name} must be digits 0 to {CLASSES - 1}; got values from "
                         f"{array.min()} to {array.max()}.")
    return array.astype(np.int64)


def learning_rate_value(value) -> float:
    """``value`` as a learning rate η, or a ValueError that says what to use instead."""
    return check_learning_rate(value, MAX_LEARNING_RATE, suggestion=0.5)


def _count(value, name: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            low <= value <= high):
        raise ValueError(f"{name} must be a whole number from {low:,} to {high:,}, "
                         f"got {value!r}.")
    return int(value)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches in one pass over n images; the last one holds what is left."""
    return -(-n // batch_size)


def checkpoint_every(n: int, batch_size: int, epochs: int) -> int:
    """How many steps apart a run measures its loss: about CHART_POINTS times in a run."""
    return max(1, -(-epochs * steps_per_epoch(n, batch_size) // CHART_POINTS))


def log_softmax(scores: np.ndarray) -> np.ndarray:
    """log P for each row of scores; subtracting the row's largest score keeps exp finite."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def pixels(images: np.ndarray) -> np.ndarray:
    """uint8 images as the rows of X: N × 784 grey levels in [0, 1], float64."""
    return np.asarray(images, dtype=np.float64).reshape(len(images), PIXELS) / 255


def loss_and_accuracy(W, b, X, y, X_accuracy=None, y_accuracy=None) -> tuple[float, float]:
    """The cross-entropy on (X, y) and the accuracy on (X_accuracy, y_accuracy), which default
    to (X, y). Ties go to the lower digit, as ``argmax`` breaks them."""
    log_p = log_softmax(X @ W + b)
    loss = float(-log_p[np.arange(len(y)), y].mean())
    if X_accuracy is None:
        return loss, float(np.mean(log_p.argmax(axis=1) == y))
    return loss, float(np.mean(np.argmax(X_accuracy @ W + b, axis=1) == y_accuracy))


@dataclass
class Checkpoint:
    step: int
    loss: float        # on the training images
    accuracy: float    # on the validation images (the training images when there are none)


@dataclass
class SoftmaxRun:
    """Where a run stands: the weights after ``step`` steps and every checkpoint so far."""

    W: np.ndarray      # 784 × 10
    b: np.ndarray      # 10
    step: int
    history: list[Checkpoint] = field(default_factory=list)
    diverged: bool = False


def train_softmax(images, labels, learning_rate: float, batch_size: int, steps: int,
                  seed: int = 0, *, validation=None, check_every: int = 1) -> SoftmaxRun:
    """Minibatch SGD on softmax regression, exactly as the browser's ``SoftmaxSGD`` runs it.

    W and b start at zero. Each epoch shuffles the images with :class:`Mulberry32` (one stream
    for the whole run, seeded with ``seed``) and takes batches of ``batch_size`` in that order,
    the last batch holding what is left. A step is the chapter's
    θ ← θ − η ∇L on the batch's mean cross-entropy. The loss on all training images and the
    accuracy (on ``validation = (images, labels)`` if given) are measured before the first step,
    every ``check_every`` steps and after the last; the run stops at a checkpoint whose loss
    exceeds ``DIVERGED_LOSS`` (or is not finite), with ``diverged`` set.
    """
    images = _images(images)
    y = _labels(labels, len(images))
    eta = learning_rate_value(learning_rate)
    n = len(y)
    batch_size = _count(batch_size, "the batch size", 1, n)
    steps = _count(steps, "steps", 0, 10**7)
    check_every = _count(check_every, "check_every", 1, 10**7)
    X = pixels(images)
    held_out = ()
    if validation is not None:
        validation_images, validation_labels = _validation(validation)
        held_out = (pixels(validation_images), validation_labels)
    random = Mulberry32(seed)
    run = SoftmaxRun(W=np.zeros((PIXELS, CLASSES)), b=np.zeros(CLASSES), step=0)

    def check() -> bool:
        loss, accuracy = loss_and_accuracy(run.W, run.b, X, y, *held_out)
        run.history.append(Checkpoint(run.step, loss, accuracy))
        run.diverged = not loss <= DIVERGED_LOSS
        return run.diverged

    check()
    order, cursor = np.arange(0), n
    while run.step < steps and not run.diverged:
        if cursor >= n:
            order, cursor = random.permutation(n), 0
        batch = order[cursor:cursor + batch_size]
        cursor += batch_size
        error = np.exp(log_softmax(X[batch] @ run.W + run.b))   # P ...
        error[np.arange(len(batch)), y[batch]] -= 1              # ... minus the one-hot Y
        error /= len(batch)
        run.W -= eta * (X[batch].T @ error)                      # θ ← θ − η ∇L
        run.b -= eta * error.sum(axis=0)
        run.step += 1
        if run.step % check_every == 0 or run.step == steps:
            check()
    return run


def _validation(validation) -> tuple[np.ndarray, np.ndarray]:
    """The pair (images, labels), checked: uint8 images and their digits."""
    try:
        images, labels = validation
    except (TypeError, ValueError):
        raise ValueError("validation must be a pair (images, labels).") from None
    images = _images(images, "the validation images")
    return images, _labels(labels, len(images), "the validation labels")


def _pack(*arrays: np.ndarray) -> str:
    """Arrays of bytes, joined, deflated (zlib) and base64-encoded: the browser inflates them
    with its DecompressionStream, exactly."""
    raw = b"".join(np.ascontiguousarray(a, dtype=np.uint8).tobytes() for a in arrays)
    return base64.b64encode(zlib.compress(raw, 9)).decode("ascii")


def template_strip(W: np.ndarray) -> np.ndarray:
    """The ten columns of W as 28 × 28 images side by side, two blank (NaN) columns apart, each
    scaled to [−1, 1] by its largest |weight|, as the browser draws them."""
    columns = W.T.reshape(CLASSES, SIDE, SIDE)
    limits = np.abs(columns).max(axis=(1, 2), keepdims=True)
    unit = np.divide(columns, limits, out=np.zeros_like(columns), where=limits > 0)
    gap = np.full((CLASSES, SIDE, 2), np.nan)
    return np.concatenate([unit, gap], axis=2).transpose(1, 0, 2).reshape(SIDE, -1)[:, :-2]


def _trait(check, *args):
    """``check(*args)``, its ValueError raised as the TraitError traitlets expects."""
    try:
        return check(*args)
    except ValueError as err:
        raise traitlets.TraitError(str(err)) from None


class SoftmaxTrainer(BookWidget):
    """Softmax regression trained in the reader's browser: step, play, reset; η, batch, seed.

    ``images`` (uint8, N × 28 × 28) and ``labels`` are the training sample; ``validation``, an
    optional pair (images, labels), is where the accuracy is measured (else on the training
    sample). Both travel in the page, deflated: about 0.2 kB per image. A run lasts ``epochs``
    epochs; :meth:`run` computes in Python exactly what the browser computes.
    """

    _module = "softmax_trainer"
    learning_rate = traitlets.Float(0.5).tag(sync=True)
    batch_size = traitlets.Int(64).tag(sync=True)
    seed = traitlets.Int(0).tag(sync=True)
    epochs = traitlets.Int(10).tag(sync=True)
    sample = traitlets.Unicode(read_only=True).tag(sync=True)
    n_train = traitlets.Int(read_only=True).tag(sync=True)
    n_validation = traitlets.Int(read_only=True).tag(sync=True)
    max_learning_rate = traitlets.Float(MAX_LEARNING_RATE, read_only=True).tag(sync=True)
    diverged_loss = traitlets.Float(DIVERGED_LOSS, read_only=True).tag(sync=True)
    chart_points = traitlets.Int(CHART_POINTS, read_only=True).tag(sync=True)

    def __init__(self, images, labels, *, validation=None, learning_rate: float = 0.5,
                 batch_size: int = 64, seed: int = 0, epochs: int = 10):
        self._images = _images(images)
        self._labels = _labels(labels, len(self._images))
        self._validation = None if validation is None else _validation(validation)
        packed = [self._labels, self._images]
        if self._validation is not None:
            packed = [self._labels, self._validation[1], self._images, self._validation[0]]
        super().__init__(learning_rate=learning_rate, batch_size=batch_size, seed=seed,
                         epochs=epochs)
        self.set_trait("sample", _pack(*packed))
        self.set_trait("n_train", len(self._images))
        self.set_trait("n_validation", 0 if validation is None else len(self._validation[0]))

    @traitlets.validate("learning_rate")
    def _check_learning_rate(self, proposal):
        return _trait(learning_rate_value, proposal["value"])

    @traitlets.validate("batch_size")
    def _check_batch_size(self, proposal):
        return _trait(_count, proposal["value"], "the batch size", 1, len(self._images))

    @traitlets.validate("seed")
    def _check_seed(self, proposal):
        return _trait(_seed, proposal["value"])

    @traitlets.validate("epochs")
    def _check_epochs(self, proposal):
        return _trait(_count, proposal["value"], "epochs", 1, MAX_EPOCHS)

    def run(self, steps: int | None = None, **settings) -> SoftmaxRun:
        """The run the browser makes: ``steps`` steps, or all of it, with the current settings
        or with others given by name (``learning_rate``, ``batch_size``, ``seed``,
        ``epochs``), which leave the widget as it is."""
        unknown = set(settings) - {"learning_rate", "batch_size", "seed", "epochs"}
        if unknown:
            raise TypeError(f"run() takes learning_rate, batch_size, seed and epochs, not "
                            f"{', '.join(sorted(unknown))}.")
        values = {name: settings.get(name, getattr(self, name))
                  for name in ("learning_rate", "batch_size", "seed", "epochs")}
        n = len(self._images)
        batch_size = _count(values["batch_size"], "the batch size", 1, n)
        epochs = _count(values["epochs"], "epochs", 1, MAX_EPOCHS)
        total = epochs * steps_per_epoch(n, batch_size)
        return train_softmax(self._images, self._labels, values["learning_rate"], batch_size,
                             total if steps is None else steps, values["seed"],
                             validation=self._validation,
                             check_every=checkpoint_every(n, batch_size, epochs))

    def fallback(self) -> str:
        """The templates after the whole default run, with its loss and accuracy curves."""
        import matplotlib.pyplot as plt

        run = self.run()
        per_epoch = steps_per_epoch(len(self._images), self.batch_size)
        epochs = [c.step / per_epoch for c in run.history]
        fig = plt.figure(figsize=(7.5, 3.6))
        strip_ax, loss_ax, accuracy_ax = (fig.add_axes(box) for box in (
            (0.02, 0.68, 0.96, 0.27), (0.1, 0.14, 0.37, 0.42), (0.6, 0.14, 0.37, 0.42)))
        strip_ax.imshow(template_strip(run.W), cmap=DIVERGING_CMAP, vmin=-1, vmax=1)
        strip_ax.set_xticks((np.arange(CLASSES) * (SIDE + 2) + SIDE / 2 - 0.5),
                            [str(d) for d in range(CLASSES)])
        strip_ax.tick_params(length=0, labelsize=9)
        strip_ax.set_yticks([])
        strip_ax.set_frame_on(False)
        strip_ax.grid(False)
        loss_ax.semilogy(epochs, [c.loss for c in run.history], color=PALETTE["vermillion"])
        loss_ax.set(xlabel="epoch", ylabel="training loss L")
        loss_ax.yaxis.set_major_locator(plt.LogLocator(subs=(1, 2, 5)))
        loss_ax.yaxis.set_major_formatter(plt.FormatStrFormatter("%g"))
        loss_ax.yaxis.set_minor_formatter(plt.NullFormatter())
        accuracy_ax.plot(epochs, [c.accuracy for c in run.history], color=PALETTE["blue"])
        accuracy_ax.set(xlabel="epoch", ylabel=self._accuracy_label(), ylim=(0, 1))
        last = run.history[-1]
        alt = (f"Softmax regression trained on {len(self._images):,} images with η = "
               f"{self.learning_rate:g} and batches of {self.batch_size}: the ten weight "
               f"templates after {epochs[-1]:g} epochs (purple pixels raise a digit's score, "
               f"orange pixels lower it), the training loss falling from "
               f"{run.history[0].loss:.3g} to {last.loss:.3g}, and the "
               f"{self._accuracy_label()} rising to {last.accuracy:.3f}.")
        return figure_fallback(fig, alt, dpi=80, colors=SMALL_PNG_COLORS)

    def _accuracy_label(self) -> str:
        return "validation accuracy" if self._validation is not None else "training accuracy"


# --- a drawing, prepared the way MNIST's digits were ---------------------------------------------

def _strokes(strokes, size: int = CANVAS) -> list[list[list[float]]]:
    message = (f"strokes must be a list of strokes, each a list of [x, y] points with "
               f"0 ≤ x, y ≤ {size}")
    if not isinstance(strokes, (list, tuple)):
        raise ValueError(f"{message}; got {type(strokes).__name__}.")
    points = 0
    clean = []
    for stroke in strokes:
        try:
            array = np.asarray(stroke, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{message}; got a stroke {str(stroke)[:40]}.") from None
        if array.ndim != 2 or array.shape[1] != 2 or len(array) == 0:
            raise ValueError(f"{message}; got a stroke of shape {array.shape}.")
        if not (np.isfinite(array).all() and array.min() >= 0 and array.max() <= size):
            raise ValueError(f"{message}; a point lies outside, or is not a finite number.")
        points += len(array)
        clean.append(array.tolist())
    if points > MAX_POINTS:
        raise ValueError(f"a drawing may hold at most {MAX_POINTS:,} points; this one has "
                         f"{points:,}.")
    return clean


def rasterise(strokes, size: int = CANVAS, radius: float = BRUSH) -> np.ndarray:
    """The ink (0 to 1) of a drawing on a size × size grid, as the browser's pen lays it down.

    Each stroke is a polyline of [x, y] points drawn with a round pen of ``radius``: a pixel
    whose centre lies at distance d from the stroke gets ink r + ½ − d, clipped to [0, 1] (a
    one-pixel soft edge); where strokes overlap, the darker ink wins. The arithmetic is the
    browser's, operation for operation, so both give the same bits.
    """
    ink = np.zeros((size, size))
    for stroke in _strokes(strokes, size):
        for (ax, ay), (bx, by) in zip(stroke, stroke[1:] or stroke):
            _paint_segment(ink, radius, ax, ay, bx, by)
    return ink


def _paint_segment(ink, radius, ax, ay, bx, by) -> None:
    size = len(ink)
    reach = radius + 1
    x0, x1 = max(0, math.floor(min(ax, bx) - reach)), min(size - 1, math.ceil(max(ax, bx) + reach))
    y0, y1 = max(0, math.floor(min(ay, by) - reach)), min(size - 1, math.ceil(max(ay, by) + reach))
    if x0 > x1 or y0 > y1:
        return
    px = np.arange(x0, x1 + 1) + 0.5
    py = (np.arange(y0, y1 + 1) + 0.5)[:, None]
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    t = ((px - ax) * dx + (py - ay) * dy) / length2 if length2 > 0 else np.zeros((1, 1))
    t = np.minimum(1, np.maximum(0, t))
    ex, ey = px - (ax + t * dx), py - (ay + t * dy)
    cover = np.minimum(1, np.maximum(0, radius + 0.5 - np.sqrt(ex * ex + ey * ey)))
    region = ink[y0:y1 + 1, x0:x1 + 1]
    np.maximum(region, cover, out=region)


def _overlaps(n: int, scale: float) -> np.ndarray:
    """A[i, k]: how much of output pixel i (the interval [i, i + 1)) source pixel k covers,
    when source pixel k spans [k · scale, (k + 1) · scale)."""
    size = math.ceil(n * scale)
    k = np.arange(n)
    i = np.arange(size)[:, None]
    return np.maximum(0, np.minimum((k + 1) * scale, i + 1) - np.maximum(k * scale, i))


def _resample(crop: np.ndarray, scale: float) -> np.ndarray:
    """Area-average ``crop`` onto a grid ``scale`` times finer: each output pixel is the mean ink
    over its area. Sums run over the source in increasing order, as in the browser."""
    across = _overlaps(crop.shape[1], scale)          # output column j ← source column x
    down = _overlaps(crop.shape[0], scale)            # output row i ← source row y
    columns = np.zeros((crop.shape[0], len(across)))
    for j, weights in enumerate(across):
        for x in np.flatnonzero(weights > 0):
            columns[:, j] = columns[:, j] + crop[:, x] * weights[x]
    out = np.zeros((len(down), len(across)))
    for i, weights in enumerate(down):
        for y in np.flatnonzero(weights > 0):
            out[i] = out[i] + weights[y] * columns[y]
    return out


def preprocess(ink) -> np.ndarray | None:
    """MNIST's recipe (LeCun et al. 1998) for a drawing: a 28 × 28 image in [0, 1], or None
    when there is no ink.

    1. Crop to the bounding box of every pixel with ink (> 0).
    2. Scale it so that its longer side is 20 pixels, keeping the aspect ratio: each new pixel
       is the mean ink over its area, which makes the grey levels of anti-aliasing.
    3. Place it in a 28 × 28 field, shifted by whole pixels so that its centre of mass lies as
       close as it can to pixel (14, 14), counting rows and columns from 0; the shift is clipped
       so that the digit stays inside the field.

    MNIST's own digits already went through this recipe: preprocessing one of them returns it
    unchanged (the tests check the test set).
    """
    ink = np.asarray(ink, dtype=np.float64)
    if ink.ndim != 2 or min(ink.shape) == 0:
        raise ValueError(f"ink must be a 2-D grid of grey levels, got shape {ink.shape}.")
    if not (np.isfinite(ink).all() and ink.min() >= 0 and ink.max() <= 1):
        raise ValueError("ink must hold grey levels from 0 (paper) to 1 (ink).")
    rows, columns = np.flatnonzero(ink.max(axis=1) > 0), np.flatnonzero(ink.max(axis=0) > 0)
    if rows.size == 0:
        return None
    crop = ink[rows[0]:rows[-1] + 1, columns[0]:columns[-1] + 1]
    box = _resample(crop, BOX / max(crop.shape))
    mass = along_y = along_x = 0.0
    for i, row in enumerate(box.tolist()):          # in the browser's order, value by value
        for j, value in enumerate(row):
            mass += value
            along_y += value * i
            along_x += value * j
    image = np.zeros((SIDE, SIDE))
    top = _shift(SIDE // 2 - along_y / mass, SIDE - box.shape[0])
    left = _shift(SIDE // 2 - along_x / mass, SIDE - box.shape[1])
    image[top:top + box.shape[0], left:left + box.shape[1]] = box
    return image


def _shift(offset: float, most: int) -> int:
    """The nearest whole shift (halves round up, as in JavaScript), kept within [0, most]."""
    return min(most, max(0, math.floor(offset + 0.5)))


# --- the chapter's CNN, exported for the browser -------------------------------------------------

@dataclass
class ExportedCNN:
    """``small_cnn``'s weights with batch norm folded into the convolutions, as float32.

    In evaluation mode batch norm is an affine map per channel, γ (z − μ) / √(σ² + ε) + β with
    its running statistics; folded into the convolution before it, the weights become
    w γ / √(σ² + ε) and the bias (b − μ) γ / √(σ² + ε) + β. ``mean`` and ``std`` normalise
    the input, as in training.
    """

    conv1_weight: np.ndarray   # c1 × 1 × 3 × 3
    conv1_bias: np.ndarray
    conv2_weight: np.ndarray   # c2 × c1 × 3 × 3
    conv2_bias: np.ndarray
    linear_weight: np.ndarray  # 10 × (c2 · 7 · 7), PyTorch's layout (it stores W transposed)
    linear_bias: np.ndarray
    mean: float
    std: float

    @property
    def channels(self) -> tuple[int, int]:
        return len(self.conv1_bias), len(self.conv2_bias)

    def to_bytes(self) -> bytes:
        """All weights in the order above, float32 little-endian: what the browser reads."""
        return b"".join(np.asarray(a, dtype="<f4").tobytes() for a in (
            self.conv1_weight, self.conv1_bias, self.conv2_weight, self.conv2_bias,
            self.linear_weight, self.linear_bias))


_LAYERS = ("Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d", "Conv2d", "BatchNorm2d", "ReLU",
           "MaxPool2d", "Flatten", "Linear")


def _check_small_cnn(model) -> tuple[int, int]:
    """The channels (c1, c2) of a trained ``small_cnn`` in evaluation mode, or a clear error."""
    from torch import nn

    expected = ("a trained mlbook.mnist.small_cnn: " + " → ".join(_LAYERS))
    layers = list(model) if isinstance(model, nn.Sequential) else None
    if layers is None or [type(layer).__name__ for layer in layers] != list(_LAYERS):
        got = ([type(layer).__name__ for layer in layers] if layers is not None
               else type(model).__name__)
        raise TypeError(f"DrawDigit needs {expected}; got {got}.")
    conv1, bn1, _, pool1, conv2, bn2, _, pool2, _, linear = layers
    c1, c2 = conv1.out_channels, conv2.out_channels
    shapes_ok = (
        conv1.in_channels == 1 and conv2.in_channels == c1
        and all(c.kernel_size == (3, 3) and c.padding == (1, 1) and c.stride == (1, 1)
                and c.dilation == (1, 1) and c.groups == 1 and c.bias is not None
                for c in (conv1, conv2))
        and bn1.num_features == c1 and bn2.num_features == c2
        and all(bn.affine and bn.track_running_stats for bn in (bn1, bn2))
        and all(pool.kernel_size in (2, (2, 2)) and pool.stride in (2, (2, 2))
                and pool.padding in (0, (0, 0)) for pool in (pool1, pool2))
        and linear.in_features == c2 * 7 * 7 and linear.out_features == CLASSES)
    if not shapes_ok:
        raise ValueError(f"DrawDigit needs {expected} with 3 × 3 convolutions (padding 1), "
                         f"2 × 2 pooling and {CLASSES} outputs; this model's layers differ: "
                         f"{model}")
    if model.training:
        raise ValueError("DrawDigit needs the model in evaluation mode, so that batch norm uses "
                         "its running statistics: pass model.eval().")
    if int(bn1.num_batches_tracked) == 0:
        raise ValueError("this small_cnn has not been trained (its batch norm has seen no "
                         "batch): train it first, e.g. with mlbook.mnist.fit.")
    return c1, c2


def export_cnn(model, mean: float, std: float) -> ExportedCNN:
    """The browser's copy of a trained ``small_cnn`` (see :class:`ExportedCNN`)."""
    import torch

    c1, c2 = _check_small_cnn(model)
    if isinstance(mean, bool) or not (isinstance(mean, numbers.Real) and math.isfinite(mean)):
        raise ValueError(f"mean must be the finite pixel mean the model was trained with, "
                         f"got {mean!r}.")
    if isinstance(std, bool) or not (isinstance(std, numbers.Real) and math.isfinite(std)
                                     and std > 0):
        raise ValueError(f"std must be the positive pixel std the model was trained with, "
                         f"got {std!r}.")
    if 4 * (c1 * 9 + c1 + c2 * c1 * 9 + c2 + CLASSES * c2 * 49 + CLASSES) > MAX_WEIGHT_BYTES:
        raise ValueError(f"a small_cnn with channels ({c1}, {c2}) has more than "
                         f"{MAX_WEIGHT_BYTES // 1000} kB of weights, too many for the page; "
                         f"the chapter's (16, 32) takes 82 kB.")

    def numpy(tensor) -> np.ndarray:
        return tensor.detach().to("cpu", torch.float64).numpy()

    def fold(conv, bn):
        scale = numpy(bn.weight) / np.sqrt(numpy(bn.running_var) + bn.eps)
        weight = numpy(conv.weight) * scale[:, None, None, None]
        bias = (numpy(conv.bias) - numpy(bn.running_mean)) * scale + numpy(bn.bias)
        return weight.astype(np.float32), bias.astype(np.float32)

    layers = list(model)
    exported = ExportedCNN(*fold(layers[0], layers[1]), *fold(layers[4], layers[5]),
                           numpy(layers[9].weight).astype(np.float32),
                           numpy(layers[9].bias).astype(np.float32), float(mean), float(std))
    arrays = exported.to_bytes()
    if not np.isfinite(np.frombuffer(arrays, dtype="<f4")).all():
        raise ValueError("the model's weights or batch-norm statistics hold NaN or infinity: "
                         "its training diverged. Train it again with a smaller learning rate.")
    return exported


def _conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """A 3 × 3 convolution with padding 1 (cross-correlation, as in PyTorch): N×C×H×W → N×K×H×W."""
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (3, 3), axis=(2, 3))
    out = np.tensordot(windows, weight.astype(np.float64), axes=([1, 4, 5], [1, 2, 3]))
    return out.transpose(0, 3, 1, 2) + bias.astype(np.float64)[None, :, None, None]


def _relu_pool(x: np.ndarray) -> np.ndarray:
    n, c, height, width = x.shape
    pooled = x.reshape(n, c, height // 2, 2, width // 2, 2).max(axis=(3, 5))
    return np.maximum(pooled, 0)


def cnn_forward(cnn: ExportedCNN, images) -> np.ndarray:
    """The browser's CNN in NumPy float64: images (N × 28 × 28, in [0, 1]) → probabilities
    (N × 10). Normalise, then conv → ReLU → 2 × 2 max pool twice, flatten, linear, softmax."""
    x = np.asarray(images, dtype=np.float64).reshape(-1, 1, SIDE, SIDE)
    chunks = []
    for start in range(0, len(x), 500):   # bounded memory for the sliding windows
        h = (x[start:start + 500] - cnn.mean) / cnn.std
        h = _relu_pool(_conv3x3(h, cnn.conv1_weight, cnn.conv1_bias))
        h = _relu_pool(_conv3x3(h, cnn.conv2_weight, cnn.conv2_bias))
        scores = h.reshape(len(h), -1) @ cnn.linear_weight.astype(np.float64).T
        chunks.append(np.exp(log_softmax(scores + cnn.linear_bias.astype(np.float64))))
    return np.concatenate(chunks)


def strokes_from_image(image, threshold: int = 128, size: int = CANVAS) -> list[list[list[float]]]:
    """Strokes that redraw a 28 × 28 uint8 image with the widget's pen, as a reader might trace
    it: one horizontal stroke through each run of dark pixels (≥ ``threshold``) of each row."""
    image = np.asarray(image)
    if image.shape != (SIDE, SIDE):
        raise ValueError(f"image must be {SIDE} × {SIDE} grey levels, got shape {image.shape}.")
    dark = image >= threshold
    cell = size / SIDE
    strokes = []
    for row, pixels_in_row in enumerate(dark):
        edges = np.flatnonzero(np.diff(np.concatenate([[0], pixels_in_row.astype(int), [0]])))
        for start, stop in zip(edges[::2], edges[1::2]):
            y = (row + 0.5) * cell
            strokes.append([[(start + 0.5) * cell, y], [(stop - 0.5) * cell, y]])
    return strokes


def example_strokes() -> list[list[list[float]]]:
    """A handwritten-looking 2, the drawing a DrawDigit shows before the reader draws."""
    arc = [[140 + 62 * math.cos(a), 105 + 55 * math.sin(a)]
           for a in np.linspace(-0.9 * math.pi, 0.22 * math.pi, 14)]
    return [[[round(x, 1), round(y, 1)] for x, y in arc + [[88, 222], [200, 220]]]]


class DrawDigit(BookWidget):
    """Draw a digit (mouse, pen or finger); the chapter's CNN reads it as you draw.

    ``model`` is a trained :func:`mlbook.mnist.small_cnn` in evaluation mode, ``mean`` and
    ``std`` the pixel normalisation it was trained with. Its weights, batch norm folded in,
    travel in the page (82 kB for the chapter's channels). The page shows the 28 × 28 input the
    model sees (:func:`preprocess`) and its ten probabilities; ``strokes`` holds the drawing
    (the reader's, or one set from Python).
    """

    _module = "draw_digit"
    strokes = traitlets.List().tag(sync=True)
    weights = traitlets.Unicode(read_only=True).tag(sync=True)
    channels = traitlets.List(traitlets.Int(), read_only=True).tag(sync=True)
    mean = traitlets.Float(read_only=True).tag(sync=True)
    std = traitlets.Float(read_only=True).tag(sync=True)
    size = traitlets.Int(CANVAS, read_only=True).tag(sync=True)
    brush = traitlets.Float(BRUSH, read_only=True).tag(sync=True)
    max_points = traitlets.Int(MAX_POINTS, read_only=True).tag(sync=True)

    def __init__(self, model, *, mean: float, std: float, strokes: Sequence | None = None):
        self.cnn = export_cnn(model, mean, std)
        super().__init__(strokes=example_strokes() if strokes is None else strokes)
        self.set_trait("weights", base64.b64encode(self.cnn.to_bytes()).decode("ascii"))
        self.set_trait("channels", list(self.cnn.channels))
        self.set_trait("mean", self.cnn.mean)
        self.set_trait("std", self.cnn.std)

    @traitlets.validate("strokes")
    def _check_strokes(self, proposal):
        return _trait(_strokes, proposal["value"])

    def image(self) -> np.ndarray | None:
        """The 28 × 28 input the model sees for the current drawing (None if it is empty)."""
        return preprocess(rasterise(self.strokes))

    def probabilities(self) -> np.ndarray | None:
        """The model's ten probabilities for the current drawing (None if it is empty)."""
        image = self.image()
        return None if image is None else cnn_forward(self.cnn, image[None])[0]

    def fallback(self) -> str:
        """The drawing, the input the model sees and its probabilities, as one picture."""
        import matplotlib.pyplot as plt

        image, probabilities = self.image(), self.probabilities()
        fig, (drawing, seen, bars) = plt.subplots(1, 3, figsize=(7.2, 2.4),
                                                  width_ratios=(1, 1, 1.6))
        drawing.imshow(rasterise(self.strokes), cmap="gray_r", vmin=0, vmax=1)
        drawing.set_title("your drawing", fontsize=10)
        seen.imshow(np.zeros((SIDE, SIDE)) if image is None else image, cmap="gray_r",
                    vmin=0, vmax=1)
        seen.set_title("what the model sees", fontsize=10)
        for ax in (drawing, seen):
            ax.set(xticks=[], yticks=[])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set(visible=True, color="#8a8a8a")
        shown = np.zeros(CLASSES) if probabilities is None else probabilities
        best = int(np.argmax(shown))
        colours = [PALETTE["vermillion"] if d == best else PALETTE["blue"] for d in range(10)]
        bars.bar(range(CLASSES), shown, color=colours)
        bars.set(xticks=range(CLASSES), ylim=(0, 1), xlabel="digit", ylabel="probability")
        fig.tight_layout(pad=0.6)
        verdict = ("nothing drawn" if probabilities is None else
                   f"the model reads a {best} with probability {shown[best]:.2f}")
        alt = (f"A digit drawn by hand, the 28 × 28 image the chapter's CNN sees after MNIST's "
               f"preprocessing, and its ten probabilities: {verdict}.")
        return figure_fallback(fig, alt, dpi=80, colors=SMALL_PNG_COLORS)
