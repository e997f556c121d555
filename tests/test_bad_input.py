"""Bad input, one table: every public ``mlbook`` function and live widget, fed what a reader or an
author might mistype, must refuse it clearly and leave no partial files behind.

A row is a :class:`Case`: a call that gets a fresh, empty working folder (also the current
directory), and what must happen: an exception of the given types whose message names the problem
(``match``, a regular expression). After the call the folder must hold exactly what
it held before. No case may touch the network: downloads fail at once, as offline.

To add a chapter's rows, append to ``CASES`` in its section at the end (``learning_rate_rows``
writes the five standard learning-rate rows). A known missing check is a row with ``gap=...``:
it runs as a strict xfail, so the row turns red once the check is added, and is then promoted.
The run ends with a line ``bad-input cases: N checked``.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from traitlets import TraitError

from mlbook import DATA_ENV, MNISTUnavailableError, load_mnist

MIRROR = Path(os.environ.get(DATA_ENV) or Path(__file__).resolve().parents[2]
              / "shared" / "data" / "mnist-offline")
BAD_LEARNING_RATES = {"zero": 0.0, "negative": -0.1, "nan": math.nan, "inf": math.inf,
                      "huge": 1e9}


@dataclass
class Case:
    id: str
    call: Callable[[Path], object]
    match: str = ""
    raises: tuple[type[BaseException], ...] = (ValueError, TypeError)
    setup: Callable[[Path], None] | None = None
    needs_mirror: bool = False
    gap: str | None = None          # known missing validation (strict xfail, reported)
    marks: list = field(default_factory=list)


def learning_rate_rows(prefix: str, call: Callable[[Path, float], object],
                       match: str = r"learning rate|η|eta", **more) -> list[Case]:
    """The five standard rows: learning rate 0, negative, NaN, inf and 1e9."""
    return [Case(f"{prefix}-lr-{name}", lambda ws, v=value: call(ws, v), match=match, **more)
            for name, value in BAD_LEARNING_RATES.items()]


# --- helpers for the rows ------------------------------------------------------------------------

def _copy_mirror(ws: Path) -> Path:
    raw = ws / "MNIST" / "raw"
    shutil.copytree(MIRROR / "MNIST" / "raw", raw)
    return raw


def _truncate(name: str, keep: int):
    def setup(ws: Path) -> None:
        path = _copy_mirror(ws) / name
        path.write_bytes(path.read_bytes()[:keep])
    return setup


def _garble_header(name: str):
    def setup(ws: Path) -> None:
        path = _copy_mirror(ws) / name
        data = bytearray(path.read_bytes())
        data[:16] = b"NOT AN IDX FILE!"
        path.write_bytes(bytes(data))
    return setup


def _remove(name: str):
    def setup(ws: Path) -> None:
        (_copy_mirror(ws) / name).unlink()
    return setup


def _file_as_root(ws: Path) -> None:
    (ws / "mnist.txt").write_text("not a folder")


def _env_root(ws: Path):
    os.environ[DATA_ENV] = str(ws / "nowhere")
    try:
        return load_mnist()
    finally:
        os.environ.pop(DATA_ENV)


def _line_data():
    x = np.linspace(0, 1, 8)
    return x, 0.5 * x + 0.2


def _intro(name: str, *args, **kwargs):
    """Call ``mlbook.intro.<name>``; the widget's typed input is checked in the browser, in
    tests/test_introduction.py (a message in the widget for each bad entry)."""
    from mlbook import intro

    return getattr(intro, name)(*args, **kwargs)


def _widgets(name: str):
    """``mlbook.widgets.<name>``, imported when its row runs."""
    import mlbook.widgets

    return getattr(mlbook.widgets, name)


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, _ = plt.subplots(figsize=(1, 1))
    return fig


# --- the table -----------------------------------------------------------------------------------

UNAVAILABLE = (MNISTUnavailableError,)
CASES: list[Case] = [
    # mlbook.data.load_mnist
    Case("load_mnist-missing-root", lambda ws: load_mnist(root=ws / "nowhere"),
         match=r"MLBOOK_DATA.*export|export.*MLBOOK_DATA", raises=UNAVAILABLE),
    Case("load_mnist-missing-root-from-env", _env_root, match=r"nowhere.*MLBOOK_DATA",
         raises=UNAVAILABLE),
    Case("load_mnist-root-is-a-file", lambda ws: load_mnist(root=ws / "mnist.txt"),
         match="is a file, not a folder", raises=UNAVAILABLE, setup=_file_as_root),
    Case("load_mnist-truncated-images", lambda ws: load_mnist(train=False, root=ws),
         match="corrupt", raises=UNAVAILABLE, setup=_truncate("t10k-images-idx3-ubyte", 5000),
         needs_mirror=True),
    Case("load_mnist-truncated-labels", lambda ws: load_mnist(train=False, root=ws),
         match="corrupt", raises=UNAVAILABLE, setup=_truncate("t10k-labels-idx1-ubyte", 9),
         needs_mirror=True),
    Case("load_mnist-empty-images-file", lambda ws: load_mnist(train=True, root=ws),
         match="corrupt", raises=UNAVAILABLE, setup=_truncate("train-images-idx3-ubyte", 0),
         needs_mirror=True),
    Case("load_mnist-corrupt-idx-header", lambda ws: load_mnist(train=False, root=ws),
         match="corrupt", raises=UNAVAILABLE, setup=_garble_header("t10k-images-idx3-ubyte"),
         needs_mirror=True),
    Case("load_mnist-one-file-missing", lambda ws: load_mnist(train=False, root=ws),
         match=r"MLBOOK_DATA", raises=UNAVAILABLE, setup=_remove("t10k-labels-idx1-ubyte"),
         needs_mirror=True),
    # mlbook.plotting
    Case("png_data_uri-dpi-zero", lambda ws: png_data_uri(_figure(), dpi=0),
         match="dpi must be positive"),
    Case("png_data_uri-dpi-negative", lambda ws: png_data_uri(_figure(), dpi=-100),
         match="dpi must be positive"),
    Case("png_data_uri-not-a-figure", lambda ws: png_data_uri(None), match="figure"),
    # mlbook.widgets
    Case("bundle-unknown-module", lambda ws: _widgets("bundle")("no_such_widget"),
         match=r"no widget module no_such_widget\.js"),
    Case("BookWidget-without-fallback",
         lambda ws: type("Bare", (_widgets("BookWidget"),), {})().fallback(),
         match=r"implement fallback\(\)", raises=(NotImplementedError,)),
    Case("figure_fallback-not-a-figure", lambda ws: _widgets("figure_fallback")(None, "a plot"),
         match="figure"),
    *learning_rate_rows("check_learning_rate",
                        lambda ws, eta: _widgets("check_learning_rate")(eta, 10, 0.3)),
    Case("check_learning_rate-text", lambda ws: _widgets("check_learning_rate")("fast", 10, 0.3),
         match="must be a number"),
    # mlbook.intro: the line-fit widget and its Python references
    *learning_rate_rows("intro-LineFitExplorer",
                        lambda ws, eta: _intro("LineFitExplorer", *_line_data(), eta),
                        raises=(TraitError,)),
    *learning_rate_rows("intro-descent_path",
                        lambda ws, eta: _intro("descent_path", *_line_data(), eta, 5)),
    Case("intro-LineFitExplorer-lr-text",
         lambda ws: _intro("LineFitExplorer", *_line_data(), "fast"),
         match="must be a number|expected a float", raises=(TraitError,)),
    Case("intro-LineFitExplorer-mismatched-x-y",
         lambda ws: _intro("LineFitExplorer", [0.0, 0.5, 1.0], [1.0, 2.0]), match="same size"),
    Case("intro-LineFitExplorer-one-point",
         lambda ws: _intro("LineFitExplorer", [0.5], [1.0]), match="at least two points"),
    Case("intro-LineFitExplorer-equal-x",
         lambda ws: _intro("LineFitExplorer", [0.5, 0.5], [1.0, 2.0]), match="all equal"),
    Case("intro-LineFitExplorer-nan-y",
         lambda ws: _intro("LineFitExplorer", [0.0, 1.0], [1.0, math.nan]), match="finite"),
    Case("intro-LineFitExplorer-text-x",
         lambda ws: _intro("LineFitExplorer", ["a", "b"], [1.0, 2.0]),
         match="sequences of numbers"),
    Case("intro-LineFitExplorer-step-beyond-steps",
         lambda ws: _intro("LineFitExplorer", *_line_data(), steps=10, step=11),
         match="step must be from 0 to steps", raises=(TraitError,)),
    Case("intro-LineFitExplorer-steps-zero",
         lambda ws: _intro("LineFitExplorer", *_line_data(), steps=0),
         match="steps must be from 1", raises=(TraitError,)),
    Case("intro-descent_path-steps-negative",
         lambda ws: _intro("descent_path", *_line_data(), 0.1, -1), match="steps must be"),
    Case("intro-descent_path-steps-fraction",
         lambda ws: _intro("descent_path", *_line_data(), 0.1, 2.5), match="steps must be"),
    Case("intro-stability_limit-equal-x", lambda ws: _intro("stability_limit", [1.0, 1.0]),
         match="all equal"),
    Case("intro-least_squares-empty", lambda ws: _intro("least_squares", [], []),
         match="at least two points"),
]


def png_data_uri(*args, **kwargs):
    from mlbook.plotting import png_data_uri as function

    return function(*args, **kwargs)


# --- chapter modules: add their rows here as the chapters land -------------------------------

def _gd(ws, learning_rate=0.1, start=(1.0, 2.0), steps=5, momentum=0.0, grad=None):
    from mlbook.calculus import gradient_descent

    return gradient_descent(grad or (lambda theta: 2 * theta), start, learning_rate, steps,
                            momentum)


def _explorer(**traits):
    from mlbook.calculus import DescentExplorer

    return DescentExplorer(**traits)


def _calculus(name, *args):
    import mlbook.calculus

    return getattr(mlbook.calculus, name)(*args)


CASES += [
    # mlbook.calculus.gradient_descent
    *learning_rate_rows("calculus-gradient_descent",
                        lambda ws, eta: _gd(ws, learning_rate=eta),
                        match=r"learning rate η.*(must|too large)"),
    Case("calculus-gradient_descent-lr-text", lambda ws: _gd(ws, learning_rate="fast"),
         match="must be a number"),
    Case("calculus-gradient_descent-momentum-one", lambda ws: _gd(ws, momentum=1.0),
         match="momentum β must satisfy"),
    Case("calculus-gradient_descent-momentum-negative", lambda ws: _gd(ws, momentum=-0.5),
         match="momentum β must satisfy"),
    Case("calculus-gradient_descent-momentum-nan", lambda ws: _gd(ws, momentum=math.nan),
         match="momentum β must be a finite"),
    Case("calculus-gradient_descent-steps-negative", lambda ws: _gd(ws, steps=-1),
         match="steps must be a whole number"),
    Case("calculus-gradient_descent-steps-fraction", lambda ws: _gd(ws, steps=2.5),
         match="steps must be a whole number"),
    Case("calculus-gradient_descent-start-nan", lambda ws: _gd(ws, start=(math.nan, 1)),
         match="start must be a finite"),
    Case("calculus-gradient_descent-start-matrix",
         lambda ws: _gd(ws, start=[[1, 2], [3, 4]]), match="start must be a number"),
    Case("calculus-gradient_descent-grad-wrong-shape",
         lambda ws: _gd(ws, grad=lambda theta: np.ones(3)), match=r"shape"),
    Case("calculus-gradient_descent-start-empty", lambda ws: _gd(ws, start=()),
         match="start"),
    # mlbook.calculus.DescentExplorer, set up from Python (what a reader types into it is
    # checked in the browser: tests/test_calculus.py::test_bad_input_shows_a_message_in_the_widget)
    *learning_rate_rows("calculus-DescentExplorer", lambda ws, eta: _explorer(learning_rate=eta),
                        match=r"learning rate η.*(must|too large)", raises=(TraitError,)),
    *[Case(f"calculus-DescentExplorer-{name}", lambda ws, t=traits: _explorer(**t), match=match,
           raises=(TraitError,))
      for name, traits, match in [
          ("surface-unknown", {"surface": "moon"}, "surface must be one of"),
          ("momentum-one", {"momentum": 1.0}, "momentum β must satisfy"),
          ("momentum-nan", {"momentum": math.nan}, "momentum β must be a finite"),
          ("start-nan", {"start": (math.nan, 0.0)}, "start must be a finite"),
          ("start-far", {"start": (1e5, 0.0)}, "far off the plot"),
          ("steps-zero", {"steps": 0}, "steps must be a whole number from 1"),
          ("steps-huge", {"steps": 10**6}, "steps must be a whole number from 1"),
          ("step-negative", {"step": -1}, "step must be 0 or more")]],
    # the rates and limits the chapter derives
    Case("calculus-stability_limit-at-a-saddle",
         lambda ws: _calculus("stability_limit", [[1.0, 0.0], [0.0, -1.0]]),
         match="not all positive"),
    *learning_rate_rows("calculus-convergence_rate",
                        lambda ws, eta: _calculus("convergence_rate", [0.2, 2.0], eta),
                        match=r"learning rate η.*(must|too large)"),
]


def _least_squares(ws, learning_rate=0.1, X=None, y=None, steps=5):
    from mlbook.linalg import least_squares_gradient_descent

    X = np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 2.0]]) if X is None else X
    y = np.array([0.0, 1.0, 2.0]) if y is None else y
    return least_squares_gradient_descent(X, y, learning_rate, steps)


def _linalg_set(entries):
    """Set the explorer's matrix from Python, as a notebook reader might."""
    from mlbook.linalg import LinearMapExplorer

    explorer = LinearMapExplorer()
    explorer.matrix = entries
    return explorer


def _pca(ws, X):
    from mlbook.linalg import pca

    return pca(np.asarray(X, dtype=float))


def _coin_explorer(**traits):
    from mlbook.probability import LikelihoodExplorer

    return LikelihoodExplorer(**traits)


def _torch(*shape):
    import torch

    return torch.zeros(*shape)


CASES += [
    # mlbook.linalg
    *learning_rate_rows("linalg-least_squares_gradient_descent",
                        lambda ws, eta: _least_squares(ws, learning_rate=eta)),
    Case("linalg-least_squares-shape-mismatch",
         lambda ws: _least_squares(ws, y=np.zeros(4)), match="shape"),
    Case("linalg-least_squares-empty-data",
         lambda ws: _least_squares(ws, X=np.zeros((0, 2)), y=np.zeros(0)), match="empty|no "),
    Case("linalg-pca-empty-data", lambda ws: _pca(ws, np.zeros((0, 3))),
         match="empty|no |at least two"),
    Case("linalg-pca-vector-not-matrix", lambda ws: _pca(ws, [1.0, 2.0, 3.0]),
         match="2-D|matrix|shape"),
    Case("linalg-check_matrix-three-entries", lambda ws: _check_matrix([1, 2, 3]),
         match="exactly four entries"),
    Case("linalg-check_matrix-nan", lambda ws: _check_matrix([1, math.nan, 0, 1]),
         match="finite number"),
    Case("linalg-check_matrix-huge", lambda ws: _check_matrix([1e9, 0, 0, 1]),
         match="Keep every entry between"),
    Case("linalg-check_matrix-text", lambda ws: _check_matrix(["a", 0, 0, 1]),
         match="could not convert|number"),
    Case("linalg-explorer-bad-preset",
         lambda ws: _linalg_explorer(presets={"bad": [[1, 2], [3]]}), match="four numbers"),
    Case("linalg-explorer-matrix-inf", lambda ws: _linalg_explorer(matrix=[1, math.inf, 0, 1]),
         match="finite number"),
    Case("linalg-explorer-matrix-huge", lambda ws: _linalg_explorer(matrix=[[1e9, 0], [0, 1]]),
         match="Keep every entry between"),
    Case("linalg-explorer-set-nan", lambda ws: _linalg_set([1, math.nan, 0, 1]),
         match="finite number", raises=(TraitError,)),
    Case("linalg-explorer-set-huge", lambda ws: _linalg_set([0, 0, 0, -1e9]),
         match="Keep every entry between", raises=(TraitError,)),
    Case("linalg-explorer-set-three-entries", lambda ws: _linalg_set([1, 2, 3]),
         match="exactly four entries", raises=(TraitError,)),
    Case("linalg-map_summary-text", lambda ws: _linalg_summary(["a", 0, 0, 1]),
         match="four numbers"),
    # mlbook.probability
    # (what a reader types into the explorer is checked in the browser: tests/test_probability.py)
    *[Case(f"probability-LikelihoodExplorer-{name}", lambda ws, t=traits: _coin_explorer(**t),
           match=match, raises=(TraitError,))
      for name, traits, match in [
          ("p-nan", {"true_p": math.nan}, "between 0 and 1"),
          ("p-inf", {"true_p": math.inf}, "between 0 and 1"),
          ("p-negative", {"true_p": -0.1}, "between 0 and 1"),
          ("p-above-one", {"true_p": 1.5}, "between 0 and 1"),
          ("flips-zero", {"flips": 0}, "from 1 to"),
          ("flips-negative", {"flips": -5}, "from 1 to"),
          ("flips-huge", {"flips": 10**9}, "from 1 to"),
          ("flips-text", {"flips": "ten"}, "int"),
          ("seed-negative", {"seed": -1}, "seed must"),
          ("seed-huge", {"seed": 2**40}, "seed must"),
          ("prior-zero", {"prior_a": 0.0}, "prior_a must be a number above 0"),
          ("prior-nan", {"prior_b": math.nan}, "prior_b must be a number above 0"),
          ("prior-huge", {"prior_a": 1e9}, "at most 10000"),
          ("interval-unknown", {"interval": "bayes"}, "interval must be one of")]],
    Case("probability-interval-unknown-method",
         lambda ws: _probability("interval", "exact", 3, 10), match="must be one of"),
    Case("probability-uniforms-negative-seed", lambda ws: _probability("uniforms", -1, 5),
         match="seed"),
    Case("probability-uniforms-float-seed", lambda ws: _probability("uniforms", 0.5, 5),
         match="whole number"),
    Case("probability-entropy-not-a-distribution",
         lambda ws: _probability("entropy", [0.5, 0.6]), match="sum to 1"),
    Case("probability-kl_divergence-different-outcomes",
         lambda ws: _probability("kl_divergence", [0.5, 0.5], [0.2, 0.3, 0.5]),
         match="same outcomes"),
    Case("probability-cross_entropy_loss-label-out-of-range",
         lambda ws: _probability("cross_entropy_loss", np.zeros((2, 3)), [0, 3]),
         match="class indices"),
    Case("probability-log_softmax-empty", lambda ws: _probability("log_softmax", []),
         match="empty"),
    Case("probability-coin_mle-no-flips", lambda ws: _probability("coin_mle", 0, 0),
         match="flip|n "),
    Case("probability-coin_mle-more-heads-than-flips",
         lambda ws: _probability("coin_mle", 5, 3), match="heads"),
    Case("probability-gaussian_nll-zero-std",
         lambda ws: _probability("gaussian_nll", [1.0], [0.0], 0.0), match="std|positive"),
    Case("probability-categorical_nll-shape-mismatch",
         lambda ws: _probability("categorical_nll", np.full((3, 10), 0.1), [0, 1, 2, 3]),
         match="shape|labels"),
    Case("probability-softmax-empty", lambda ws: _probability("softmax", []),
         match="empty|no scores"),
    # mlbook.mnist
    Case("mnist-split_indices-fraction-zero", lambda ws: _mnist("split_indices", 100, 0.0),
         match="validation_fraction must lie strictly between"),
    Case("mnist-split_indices-fraction-nan", lambda ws: _mnist("split_indices", 100, math.nan),
         match="validation_fraction must lie strictly between"),
    Case("mnist-loader-batch-zero",
         lambda ws: _mnist("loader", _torch(4, 1, 28, 28), np.zeros(4, int), 0),
         match="batch_size"),
    Case("mnist-loader-length-mismatch",
         lambda ws: _mnist("loader", _torch(4, 1, 28, 28), np.zeros(5, int), 2),
         match="mismatch"),
    Case("mnist-as_images-wrong-shape",
         lambda ws: _mnist("as_images", np.zeros((5, 100), np.float32), 0.0, 1.0),
         match="shape", raises=(ValueError, TypeError, RuntimeError)),
    Case("mnist-as_images-zero-std",
         lambda ws: _mnist("as_images", np.zeros((1, 784), np.float32), 0.0, 0.0),
         match="std"),
    Case("mnist-confusion_matrix-label-out-of-range",
         lambda ws: _mnist("confusion_matrix", [10], [0]), match="digit|label|0.*9"),
    Case("mnist-mnist_style-blank", lambda ws: _mnist("mnist_style", np.full((50, 50), 0.5)),
         match="no digit found"),
    Case("mnist-mnist_style-colour", lambda ws: _mnist("mnist_style", np.zeros((28, 28, 3))),
         match="2-D array.*convert"),
    Case("mnist-mnist_style-nan", lambda ws: _mnist("mnist_style", np.full((28, 28), math.nan)),
         match="finite"),
    Case("mnist-mnist_style-over-255", lambda ws: _mnist("mnist_style", np.full((28, 28), 300)),
         match="0 to 255"),
    Case("mnist-standard_error-accuracy-above-1", lambda ws: _mnist("standard_error", 1.5, 100),
         match="accuracy in \\[0, 1\\]"),
    Case("mnist-standard_error-no-images", lambda ws: _mnist("standard_error", 0.9, 0),
         match="n ≥ 1"),
    Case("mnist-load_full_results-missing", lambda ws: _mnist("load_full_results", ws / "no.json"),
         match="bench_mnist.py", raises=(FileNotFoundError,)),
    Case("mnist-check_full_results-not-a-results-file",
         lambda ws: _mnist("check_full_results", {"schema": 1}, {}, ""),
         match="lacks.*bench_mnist.py"),
]


def _check_matrix(entries):
    from mlbook.linalg import check_matrix

    return check_matrix(entries)


def _linalg_explorer(**kwargs):
    from mlbook.linalg import LinearMapExplorer

    return LinearMapExplorer(**kwargs)


def _linalg_summary(entries):
    from mlbook.linalg import map_summary

    return map_summary(entries)


def _probability(name, *args):
    import mlbook.probability

    return getattr(mlbook.probability, name)(*args)


def _mnist(name, *args):
    import mlbook.mnist

    return getattr(mlbook.mnist, name)(*args)


# mlbook.digits: the MNIST chapter's browser widgets (typed input is checked in the browser, in
# tests/test_digits.py; these rows are what an author can pass from Python)

def _digits(name, *args, **kwargs):
    import mlbook.digits

    return getattr(mlbook.digits, name)(*args, **kwargs)


def _digit_sample(n=100, dtype=np.uint8, shape=(28, 28)):
    images = np.random.default_rng(0).integers(0, 256, size=(n, *shape)).astype(dtype)
    return images, np.arange(n) % 10


def _softmax_trainer(images=None, labels=None, **settings):
    sample_images, sample_labels = _digit_sample()
    return _digits("SoftmaxTrainer", sample_images if images is None else images,
                   sample_labels if labels is None else labels, **settings)


def _small_cnn(trained=True, evaluating=True, poison=False):
    import torch

    from mlbook.mnist import small_cnn

    torch.manual_seed(0)
    model = small_cnn()
    if trained:  # one batch through batch norm: its running statistics are set
        model.train()(torch.randn(4, 1, 28, 28))
    if poison:
        with torch.no_grad():
            model[9].weight[0, 0] = math.nan
    return model.train(not evaluating)


def _draw_digit(model=None, mean=0.13, std=0.31, **kwargs):
    return _digits("DrawDigit", _small_cnn() if model is None else model, mean=mean, std=std,
                   **kwargs)


CASES += [
    *learning_rate_rows("digits-SoftmaxTrainer",
                        lambda ws, eta: _softmax_trainer(learning_rate=eta), raises=(TraitError,)),
    Case("digits-SoftmaxTrainer-lr-text", lambda ws: _softmax_trainer(learning_rate="fast"),
         match="learning_rate.*float", raises=(TraitError,)),
    Case("digits-SoftmaxTrainer-batch-zero", lambda ws: _softmax_trainer(batch_size=0),
         match="batch size must be a whole number from 1 to 100", raises=(TraitError,)),
    Case("digits-SoftmaxTrainer-batch-larger-than-sample",
         lambda ws: _softmax_trainer(batch_size=101),
         match="batch size must be a whole number from 1 to 100", raises=(TraitError,)),
    Case("digits-SoftmaxTrainer-seed-negative", lambda ws: _softmax_trainer(seed=-1),
         match="seed must be a whole number", raises=(TraitError,)),
    Case("digits-SoftmaxTrainer-epochs-zero", lambda ws: _softmax_trainer(epochs=0),
         match="epochs must be a whole number", raises=(TraitError,)),
    Case("digits-SoftmaxTrainer-lr-set-later",
         lambda ws: setattr(_softmax_trainer(), "learning_rate", math.nan),
         match="learning rate η must be a positive", raises=(TraitError,)),
    Case("digits-SoftmaxTrainer-float-images",
         lambda ws: _softmax_trainer(images=_digit_sample(dtype=np.float32)[0]),
         match="uint8"),
    Case("digits-SoftmaxTrainer-flat-images",
         lambda ws: _softmax_trainer(images=_digit_sample(shape=(784,))[0]),
         match=r"N × 28 × 28"),
    Case("digits-SoftmaxTrainer-too-many-images",
         lambda ws: _softmax_trainer(*_digit_sample(n=2001)), match="at most 2,000"),
    Case("digits-SoftmaxTrainer-label-out-of-range",
         lambda ws: _softmax_trainer(labels=np.full(100, 10)), match="digits 0 to 9"),
    Case("digits-SoftmaxTrainer-labels-length",
         lambda ws: _softmax_trainer(labels=np.zeros(99, int)), match="100 whole numbers"),
    Case("digits-SoftmaxTrainer-validation-not-a-pair",
         lambda ws: _softmax_trainer(validation=_digit_sample()[0]), match="pair"),
    *learning_rate_rows("digits-train_softmax", lambda ws, eta: _digits(
        "train_softmax", *_digit_sample(), learning_rate=eta, batch_size=4, steps=2)),
    Case("digits-train_softmax-steps-negative", lambda ws: _digits(
        "train_softmax", *_digit_sample(), learning_rate=0.5, batch_size=4, steps=-1),
         match="steps must be a whole number"),
    Case("digits-Mulberry32-seed-too-large", lambda ws: _digits("Mulberry32", 2**32),
         match="seed must be a whole number from 0 to 4294967295"),
    Case("digits-Mulberry32-seed-fraction", lambda ws: _digits("Mulberry32", 1.5),
         match="seed must be a whole number"),
    Case("digits-preprocess-nan", lambda ws: _digits("preprocess", np.full((5, 5), math.nan)),
         match="grey levels from 0"),
    Case("digits-preprocess-above-one", lambda ws: _digits("preprocess", np.full((5, 5), 2.0)),
         match="grey levels from 0"),
    Case("digits-preprocess-not-2d", lambda ws: _digits("preprocess", np.zeros(5)),
         match="2-D grid"),
    Case("digits-rasterise-not-a-list", lambda ws: _digits("rasterise", "a 7"),
         match="list of strokes"),
    Case("digits-rasterise-point-outside", lambda ws: _digits("rasterise", [[[10, 300]]]),
         match="outside"),
    Case("digits-rasterise-nan-point", lambda ws: _digits("rasterise", [[[math.nan, 3]]]),
         match="not a finite number"),
    Case("digits-rasterise-too-many-points",
         lambda ws: _digits("rasterise", [[[1, 1]] * 20_001]), match="at most 20,000 points"),
    Case("digits-strokes_from_image-flat", lambda ws: _digits("strokes_from_image",
                                                              np.zeros(784)), match="28 × 28"),
    Case("digits-DrawDigit-not-a-model", lambda ws: _draw_digit(model="cnn.pt"),
         match="needs a trained mlbook.mnist.small_cnn"),
    Case("digits-DrawDigit-another-network", lambda ws: _draw_digit(
        model=__import__("torch").nn.Sequential(__import__("torch").nn.Linear(784, 10))),
         match="needs a trained mlbook.mnist.small_cnn"),
    Case("digits-DrawDigit-training-mode", lambda ws: _draw_digit(_small_cnn(evaluating=False)),
         match=r"evaluation mode.*model\.eval\(\)"),
    Case("digits-DrawDigit-untrained", lambda ws: _draw_digit(_small_cnn(trained=False)),
         match="not been trained"),
    Case("digits-DrawDigit-nan-weights", lambda ws: _draw_digit(_small_cnn(poison=True)),
         match="NaN or infinity"),
    Case("digits-DrawDigit-std-zero", lambda ws: _draw_digit(std=0.0), match="std must be"),
    Case("digits-DrawDigit-mean-nan", lambda ws: _draw_digit(mean=math.nan),
         match="mean must be"),
    Case("digits-DrawDigit-bad-strokes", lambda ws: _draw_digit(strokes=[[[1, 2, 3]]]),
         match="list of strokes", raises=(TraitError,)),
]

# --- open problems (mlbook.open_problems, mlbook.speedrun, mlbook.serve) -----------------------

def _op(name, *args, **kwargs):
    from mlbook import open_problems

    return getattr(open_problems, name)(*args, **kwargs)


def _op_images(n=8):
    import torch

    return torch.zeros(n, 1, 28, 28), np.arange(n) % 10


def _op_cnn():
    from mlbook.mnist import small_cnn

    return small_cnn()


def _op_private(**changes):
    images, labels = _op_images(64)
    settings = dict(epsilon=3.0, delta=1e-5, max_grad_norm=1.0, epochs=1, batch_size=16)
    settings.update(changes)
    return _op("train_private", _op("dp_cnn"), images, labels, (images, labels), **settings)


def _op_mlp():
    import torch

    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))


def _serve_bytes(body):
    from mlbook.serve import Predictor

    return Predictor(_op_cnn(), 0.13, 0.31).predict(body)


CASES += [
    Case("open_problems-measure-not-a-model", lambda ws: _op("measure", "cnn",
         "cnn.pt", *_op_images()), match="PyTorch model"),
    Case("open_problems-measure-wrong-output", lambda ws: _op(
        "measure", "mlp", __import__("torch").nn.Flatten(), *_op_images()),
         match="10 scores per image"),
    Case("open_problems-measure-flat-images", lambda ws: _op(
        "measure", "cnn", _op_cnn(), np.zeros((8, 784)), np.zeros(8)),
         match=r"N × 1 × 28 × 28"),
    Case("open_problems-quantize_int8-not-a-cnn", lambda ws: _op(
        "quantize_int8", "model.pt", _op_images()[0]), match="PyTorch model"),
    Case("open_problems-quantize_int8-no-calibration", lambda ws: _op(
        "quantize_int8", _op_cnn(), __import__("torch").zeros(0, 1, 28, 28)),
         match="empty"),
    Case("open_problems-prune_weights-fraction-one", lambda ws: _op(
        "prune_weights", _op_cnn(), 1.0), match="fraction"),
    Case("open_problems-prune_channels-not-small_cnn", lambda ws: _op(
        "prune_channels", _op_mlp(), 0.5), match="small_cnn"),
    Case("open_problems-distillation_loss-temperature-zero", lambda ws: _op(
        "distillation_loss", *[__import__("torch").zeros(2, 10)] * 2, [0, 1], 0.0, 0.5),
         match="temperature"),
    Case("open_problems-distillation_loss-alpha", lambda ws: _op(
        "distillation_loss", *[__import__("torch").zeros(2, 10)] * 2, [0, 1], 2.0, 1.5),
         match="alpha"),
    Case("open_problems-train_private-epsilon-zero", lambda ws: _op_private(epsilon=0.0),
         match="epsilon"),
    Case("open_problems-train_private-epsilon-negative", lambda ws: _op_private(epsilon=-1.0),
         match="epsilon"),
    Case("open_problems-train_private-epsilon-nan", lambda ws: _op_private(epsilon=math.nan),
         match="epsilon"),
    Case("open_problems-train_private-clip-zero", lambda ws: _op_private(max_grad_norm=0.0),
         match="clipping norm"),
    Case("open_problems-train_private-delta-too-large", lambda ws: _op_private(delta=0.5),
         match="delta"),
    Case("open_problems-train_private-batch-norm", lambda ws: _op(
        "train_private", _op_cnn(), *_op_images(64), _op_images(64), epsilon=3.0),
         match="batch normalisation"),
    Case("open_problems-epsilon_for-sample-rate", lambda ws: _op(
        "epsilon_for", 1.0, 1.5, 100), match="sample_rate"),
    Case("open_problems-epsilon_for-accountant", lambda ws: _op(
        "epsilon_for", 1.0, 0.01, 100, accountant="moments"), match="'prv' or 'rdp'"),
    Case("open_problems-membership_attack-empty", lambda ws: _op(
        "membership_attack", _op_cnn(), (__import__("torch").zeros(0, 1, 28, 28), []),
        _op_images()), match="empty"),
    Case("open_problems-client_splits-too-few", lambda ws: _op(
        "client_splits", np.arange(5), clients=10), match="cannot fill"),
    Case("open_problems-client_splits-zero-clients", lambda ws: _op(
        "client_splits", np.arange(50), clients=0), match="clients"),
    Case("open_problems-federated_averaging-empty-client", lambda ws: _op(
        "federated_averaging", _op_cnn(), [_op_images(), (__import__("torch").zeros(
            0, 1, 28, 28), np.zeros(0))], _op_images(), rounds=1), match="client 1 holds no"),
    Case("open_problems-federated_averaging-no-clients", lambda ws: _op(
        "federated_averaging", _op_cnn(), [], _op_images(), rounds=1),
         match="at least one client"),
    Case("open_problems-export_onnx-suffix", lambda ws: _op(
        "export_onnx", _op_cnn(), ws / "model.pt"), match=r"\*\.onnx"),
    Case("open_problems-export_onnx-no-folder", lambda ws: _op(
        "export_onnx", _op_cnn(), ws / "missing" / "model.onnx"), match="does not exist"),
    Case("open_problems-onnx_session-missing", lambda ws: _op(
        "onnx_session", ws / "model.onnx"), match="No ONNX file"),
    Case("open_problems-load_results-missing", lambda ws: _op(
        "load_results", "no_such_results.json"), match="run the benchmark",
         raises=(FileNotFoundError,)),
    Case("open_problems-privacy_verdict-budget-zero", lambda ws: _op(
        "privacy_verdict", {"dp": [], "environment": {}}, budget=0.0), match="budget"),
    Case("open_problems-privacy_verdict-not-results", lambda ws: _op(
        "privacy_verdict", {"rows": []}), match="privacy results file"),
    Case("speedrun-verdict-not-results", lambda ws: __import__("mlbook.speedrun").speedrun
         .verdict({"rows": []}), match="speedrun results file"),
    Case("speedrun-Recipe-network", lambda ws: __import__("mlbook.speedrun").speedrun.Recipe(
        network="resnet"), match="network must be one of"),
    Case("speedrun-Recipe-batch-zero", lambda ws: __import__("mlbook.speedrun").speedrun.Recipe(
        batch_size=0), match="batch_size"),
    Case("speedrun-Recipe-lr-nan", lambda ws: __import__("mlbook.speedrun").speedrun.Recipe(
        learning_rate=math.nan), match="learning_rate"),
    Case("speedrun-run-no-images", lambda ws: __import__("mlbook.speedrun").speedrun.run(
        __import__("mlbook.speedrun").speedrun.Recipe(), *[__import__("torch").zeros(0)] * 4),
         match="at least one"),
    Case("serve-empty-body", lambda ws: _serve_bytes(b""), match="empty.*PNG",
         raises=(ValueError,)),
    Case("serve-not-an-image", lambda ws: _serve_bytes(b"hello"), match="not an image.*PNG",
         raises=(ValueError,)),
    Case("serve-wrong-size", lambda ws: _serve_bytes(_png(56)), match="56 × 56.*28 × 28",
         raises=(ValueError,)),
    Case("serve-too-large", lambda ws: _serve_bytes(b"x" * 70_000), match="limit",
         raises=(ValueError,)),
    Case("serve-Predictor-load-missing", lambda ws: __import__("mlbook.serve").serve.Predictor
         .load(ws / "cnn.pt"), match="No model file"),
    Case("serve-png_bytes-out-of-range", lambda ws: __import__("mlbook.serve").serve.png_bytes(
        np.full(784, 2.0)), match="between 0 and 1"),
]


def _png(side):
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("L", (side, side)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- shared modules: glue and self-check questions ----------------------------------------------

def _quiz_rows() -> list[Case]:
    from mlbook.quiz import Choice, Number, Quiz

    def choice(**changes):
        settings = {"text": "Which way?", "options": ["up", "down"], "answer": 0,
                    "explain": "Up."} | changes
        return lambda ws: Choice(**settings)

    def number(**changes):
        settings = {"text": "How many?", "answer": 6, "tolerance": 0.1, "explain": "Six."} | changes
        return lambda ws: Number(**settings)

    return [
        Case("quiz-choice-one-option", choice(options=["up"]), match="two non-empty options"),
        Case("quiz-choice-empty-option", choice(options=["up", " "]), match="non-empty"),
        Case("quiz-choice-answer-out-of-range", choice(answer=2), match="index of an option"),
        Case("quiz-choice-answer-not-int", choice(answer="0"), match="index of an option"),
        Case("quiz-choice-why-length", choice(why=["a"]), match="one 'why' line per option"),
        Case("quiz-empty-question", choice(text=""), match="non-empty text"),
        Case("quiz-empty-explanation", number(explain=None), match="non-empty text"),
        Case("quiz-number-nan-answer", number(answer=math.nan), match="finite number"),
        Case("quiz-number-text-answer", number(answer="6"), match="finite number"),
        Case("quiz-number-negative-tolerance", number(tolerance=-1), match="tolerance"),
        Case("quiz-number-inf-tolerance", number(tolerance=math.inf), match="tolerance"),
        Case("quiz-no-questions", lambda ws: Quiz([]), match="at least one question"),
        Case("quiz-not-a-question", lambda ws: Quiz(["What?"]), match="Choice or Number"),
    ]


def _glue(name):
    from mlbook import glue

    return lambda ws: glue(name, 1)


CASES += [
    Case("glue-name-with-space", _glue("my value"), match="identifier"),
    Case("glue-name-starting-with-digit", _glue("2nd"), match="identifier"),
    Case("glue-name-not-text", _glue(7), match="identifier"),
    *_quiz_rows(),
]


# --- running the table ---------------------------------------------------------------------------

_RESULTS = {"checked": 0, "gaps": [], "failed": []}


class _Summary:
    def pytest_terminal_summary(self, terminalreporter):
        terminalreporter.write_sep("-", "bad input")
        terminalreporter.write_line(
            f"bad-input cases: {_RESULTS['checked']} checked, "
            f"{len(_RESULTS['failed'])} failed, {len(_RESULTS['gaps'])} known gaps"
            + (f" ({', '.join(_RESULTS['gaps'])})" if _RESULTS["gaps"] else ""))


@pytest.fixture(scope="module", autouse=True)
def _summary_line(request):
    plugin = _Summary()
    if not request.config.pluginmanager.is_registered(plugin):
        request.config.pluginmanager.register(plugin, "mlbook-bad-input-summary")
    yield


@pytest.fixture
def offline(monkeypatch):
    import urllib.error
    import urllib.request

    def refuse(*args, **kwargs):
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)


def _tree(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): (p.stat().st_size if p.is_file() else -1)
            for p in folder.rglob("*")}


def _params():
    for case in CASES:
        marks = list(case.marks)
        if case.gap:
            marks.append(pytest.mark.xfail(strict=True, reason=f"known gap: {case.gap}"))
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input_is_refused_clearly(case, tmp_path, monkeypatch, offline):
    if case.needs_mirror and not (MIRROR / "MNIST" / "raw").is_dir():
        pytest.fail(f"no MNIST copy at {MIRROR}: set {DATA_ENV}")
    workspace = tmp_path / "ws"
    workspace.mkdir()
    monkeypatch.chdir(workspace)
    for name in (DATA_ENV, "MLBOOK_BUILD"):
        monkeypatch.delenv(name, raising=False)
    if case.setup:
        case.setup(workspace)
    before = _tree(workspace)
    _RESULTS["checked"] += 1
    if case.gap:
        _RESULTS["gaps"].append(case.id)
    try:
        with pytest.raises(case.raises) as info:
            case.call(workspace)
        text = str(info.value)
        assert re.search(case.match, text, re.I | re.S), (
            f"{type(info.value).__name__}: {text!r} does not name the problem ({case.match})")
        assert "Traceback" not in text
        assert _tree(workspace) == before, "the call left files behind or changed them"
    except BaseException:
        if not case.gap:
            _RESULTS["failed"].append(case.id)
        raise


def test_the_table_covers_every_public_module():
    """Each public function of the shared modules has a row (a new function needs one too)."""
    import mlbook.data
    import mlbook.plotting
    import mlbook.widgets

    covered = " ".join(case.id for case in CASES)
    needed = {"load_mnist": mlbook.data, "png_data_uri": mlbook.plotting,
              "bundle": mlbook.widgets, "BookWidget": mlbook.widgets,
              "figure_fallback": mlbook.widgets, "check_learning_rate": mlbook.widgets}
    missing = [name for name, module in needed.items()
               if hasattr(module, name) and name not in covered]
    assert not missing, f"no bad-input rows for {missing}"
    chapters = sorted(p.stem for p in (Path(mlbook.data.__file__).parent).glob("*.py")
                      if p.stem not in {"__init__", "data", "plotting", "widgets"})
    prefix = {"intro": "intro-", "linalg": "linalg-"}
    without = [name for name in chapters if not covered.startswith(prefix.get(name, name))
               and f" {prefix.get(name, name + '-')}" not in f" {covered}"]
    assert not without, f"chapter modules without bad-input rows: {without}"
    assert len(CASES) >= 30
