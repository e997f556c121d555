"""Plumbing for the MNIST chapter: devices, tensor data, training loops with progress bars,
pictures of digits, weight templates and filters, and the stepper over SGD snapshots.

The maths the chapter teaches (softmax, cross-entropy, the hand-derived gradient, SGD) lives in the
chapter itself; this module holds what a reader need not read.
"""

from __future__ import annotations

import base64
import io
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mlbook.plotting import DIVERGING_CMAP, PALETTE
from mlbook.svg import Canvas
from mlbook.widgets import Stepper, is_static_build, message, noscript_image

N_CLASSES = 10
SIDE = 28  # MNIST images are SIDE × SIDE pixels


# --- Devices and reproducibility --------------------------------------------------------------


def pick_device() -> torch.device:
    """CUDA if a GPU is visible, else Apple's MPS, else the CPU: the same code runs on all three."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def make_reproducible(seed: int = 0, threads: int | None = None) -> None:
    """Seed every generator and ask for deterministic kernels, so a rebuild prints the same numbers.

    ``threads`` caps PyTorch's CPU threads (the order of a parallel sum changes its last bits, so
    numbers repeat exactly only with the same thread count).
    """
    # cuBLAS needs this set before its first use to choose deterministic algorithms.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if threads is not None:
        torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.benchmark = False


def chapter_definitions(notebook) -> dict:
    """The functions a chapter notebook defines, without running its other code.

    Tests and benchmarks call the chapter's own code this way, so they check what the reader reads.
    """
    import ast

    import nbformat

    namespace: dict = {"np": np, "torch": torch, "nn": nn}
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        # IPython's %magics and !commands are not Python; no definition uses them.
        source = "\n".join(line[: len(line) - len(line.lstrip())] + "pass"
                            if line.lstrip().startswith(("%", "!")) else line
                            for line in cell.source.splitlines())
        tree = ast.parse(source)
        tree.body = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        exec(compile(tree, f"{notebook}", "exec"), namespace)
    return namespace


# --- Data as tensors --------------------------------------------------------------------------


def as_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """A torchvision MNIST data set as ``X`` (N × 784, float32 in [0, 1]) and ``y`` (N, int64)."""
    images = dataset.data.numpy().reshape(len(dataset.data), -1)
    return images.astype(np.float32) / 255.0, dataset.targets.numpy().astype(np.int64)


def split_indices(n: int, validation_fraction: float, seed: int = 0):
    """Shuffle ``range(n)`` with a seeded generator; return (training, validation) index arrays."""
    if not 0 < validation_fraction < 1:
        raise ValueError(f"validation_fraction must lie strictly between 0 and 1, "
                         f"not {validation_fraction}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).numpy()
    n_validation = max(1, round(n * validation_fraction))
    return order[n_validation:], order[:n_validation]


def as_images(X: np.ndarray, mean: float, std: float) -> torch.Tensor:
    """Rows of 784 pixels as normalised N × 1 × 28 × 28 tensors, the shape convolutions expect."""
    if not (math.isfinite(std) and std > 0):
        raise ValueError(f"The pixel std must be positive and finite, got {std}: normalising "
                         "divides by it.")
    return ((torch.from_numpy(X) - mean) / std).reshape(-1, 1, SIDE, SIDE)


def loader(images: torch.Tensor, labels: np.ndarray | torch.Tensor, batch_size: int,
           shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A DataLoader over in-memory tensors; shuffling uses its own seeded generator."""
    if len(images) != len(labels):
        raise ValueError(f"Size mismatch: {len(images)} images but {len(labels)} labels.")
    dataset = TensorDataset(images, torch.as_tensor(labels))
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)


# --- Training and evaluation with progress bars -----------------------------------------------


class _FinalLine:
    """A stream for tqdm that passes on a bar's final state only.

    A built page then shows one clean line per bar instead of every intermediate refresh.
    """

    def __init__(self, stream):
        self.stream, self.pending = stream, ""

    def write(self, text: str) -> None:
        self.pending += text
        while "\n" in self.pending:
            line, self.pending = self.pending.split("\n", 1)
            self.stream.write(line.split("\r")[-1] + "\n")

    def flush(self) -> None:
        self.stream.flush()


def progress_bar(total: int, description: str):
    """A tqdm bar counting images: live in Jupyter, one final line in the static build."""
    if is_static_build():
        from tqdm import tqdm

        return tqdm(total=total, desc=description, unit="img", unit_scale=True,
                    file=_FinalLine(sys.stderr), mininterval=float("inf"), ascii=True,
                    bar_format="{l_bar}{bar:20}{r_bar}")
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="img", unit_scale=True, mininterval=0.5)


@dataclass
class EpochResult:
    epoch: int
    train_loss: float
    train_accuracy: float
    validation_loss: float
    validation_accuracy: float
    seconds: float


def train_one_epoch(model: nn.Module, batches: DataLoader, optimizer, device: torch.device,
                    scheduler=None, bar=None) -> tuple[float, float]:
    """One pass over ``batches``; returns the mean training loss and accuracy seen on the way.

    ``bar``, a progress bar, advances by each batch's images and shows the running loss.
    """
    model.train()
    total_loss, correct, seen = 0.0, 0, 0
    for images, labels in batches:
        images, labels = images.to(device), labels.to(device)
        logits = model(images)                                   # forward
        loss = nn.functional.cross_entropy(logits, labels)       # loss
        optimizer.zero_grad()                                    # forget the last gradient
        loss.backward()                                          # backward
        optimizer.step()                                         # step
        if scheduler is not None:
            scheduler.step()
        total_loss += loss.item() * len(labels)
        correct += (logits.argmax(dim=1) == labels).sum().item()
        seen += len(labels)
        if bar is not None:
            bar.update(len(labels))
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", refresh=False)
    return total_loss / seen, correct / seen


@torch.no_grad()
def predict_probabilities(model: nn.Module, images: torch.Tensor, device: torch.device,
                          batch_size: int = 1000) -> torch.Tensor:
    """Softmax probabilities (N × 10) for ``images``, on the CPU."""
    model.eval()
    chunks = [torch.softmax(model(chunk.to(device)), dim=1).cpu()
              for chunk in images.split(batch_size)]
    return torch.cat(chunks)


def evaluate(model: nn.Module, images: torch.Tensor, labels, device: torch.device
             ) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``images``."""
    labels = torch.as_tensor(labels)
    probabilities = predict_probabilities(model, images, device)
    loss = -probabilities[torch.arange(len(labels)), labels].clamp_min(1e-12).log().mean()
    accuracy = (probabilities.argmax(dim=1) == labels).float().mean()
    return loss.item(), accuracy.item()


def fit(model: nn.Module, batches: DataLoader, validation: tuple[torch.Tensor, np.ndarray],
        optimizer, epochs: int, device: torch.device, scheduler=None,
        name: str = "model") -> list[EpochResult]:
    """Train for ``epochs`` epochs, validating after each; returns one EpochResult per epoch.

    One progress bar covers the whole run: images seen, throughput, epoch, loss and the last
    validation accuracy.
    """
    history = []
    with progress_bar(epochs * len(batches.dataset), name) as bar:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            train_loss, train_accuracy = train_one_epoch(model, batches, optimizer, device,
                                                         scheduler, bar)
            seconds = time.perf_counter() - start
            validation_loss, validation_accuracy = evaluate(model, *validation, device)
            history.append(EpochResult(epoch, train_loss, train_accuracy, validation_loss,
                                       validation_accuracy, seconds))
            bar.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{train_loss:.3f}",
                            val_acc=f"{validation_accuracy:.3f}", refresh=False)
    return history


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def small_cnn(channels: tuple[int, int] = (16, 32)) -> nn.Sequential:
    """The chapter's CNN: two conv–batch-norm–ReLU–pool blocks, then one linear layer.

    Each block keeps the image size (padding 1) and then halves it (pooling): 28 → 14 → 7.
    """
    first, second = channels
    return nn.Sequential(
        nn.Conv2d(1, first, kernel_size=3, padding=1), nn.BatchNorm2d(first), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(first, second, kernel_size=3, padding=1), nn.BatchNorm2d(second), nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(second * 7 * 7, N_CLASSES),
    )


def confusion_matrix(true: Sequence[int], predicted: Sequence[int]) -> np.ndarray:
    """Counts ``C[i, j]`` of images of digit ``i`` predicted as ``j``."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    for name, digits in (("true", true), ("predicted", predicted)):
        if digits.size and not (0 <= digits.min() and digits.max() < N_CLASSES):
            raise ValueError(f"{name} labels must be digits 0 to {N_CLASSES - 1}.")
    counts = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(counts, (np.asarray(true), np.asarray(predicted)), 1)
    return counts


# --- Pictures ---------------------------------------------------------------------------------


def show_digits(X: np.ndarray, titles: Sequence[str], columns: int = 10, size: float = 1.0):
    """A grid of 28 × 28 images with a title over each."""
    rows = math.ceil(len(X) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * size, rows * size * 1.15),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, title in zip(axes.flat, X, titles, strict=False):
        ax.imshow(np.reshape(image, (SIDE, SIDE)), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    fig.tight_layout(pad=0.3)
    return fig


def show_templates(W: np.ndarray, title: str | None = None):
    """The ten columns of a 784 × 10 weight matrix as ten 28 × 28 images, on one symmetric scale."""
    limit = float(np.abs(W).max()) or 1.0
    fig, axes = plt.subplots(1, N_CLASSES, figsize=(10, 1.35))
    for digit, ax in enumerate(axes):
        ax.imshow(W[:, digit].reshape(SIDE, SIDE), cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
        ax.set_title(str(digit), fontsize=10)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=11, y=1.02)
    return fig


def show_filters(weights: torch.Tensor):
    """The first convolution's 3 × 3 filters, each on its own symmetric colour scale."""
    kernels = weights.detach().cpu().numpy()[:, 0]
    columns = min(8, len(kernels))
    rows = math.ceil(len(kernels) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 0.9), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for index, (ax, kernel) in enumerate(zip(axes.flat, kernels, strict=False)):
        limit = float(np.abs(kernel).max()) or 1.0
        ax.imshow(kernel, cmap=DIVERGING_CMAP, vmin=-limit, vmax=limit)
        ax.set_title(str(index), fontsize=8)
    fig.tight_layout(pad=0.2)
    return fig


def plot_histories(histories: dict[str, list[EpochResult]]):
    """Loss and accuracy per epoch, training (dashed) and validation (solid), one colour a model."""
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    colours = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion")]
    for colour, (name, history) in zip(colours, histories.items(), strict=False):
        epochs = [r.epoch for r in history]
        loss_ax.plot(epochs, [r.train_loss for r in history], "--", color=colour)
        loss_ax.plot(epochs, [r.validation_loss for r in history], color=colour, label=name)
        accuracy_ax.plot(epochs, [r.train_accuracy for r in history], "--", color=colour)
        accuracy_ax.plot(epochs, [r.validation_accuracy for r in history], color=colour,
                         label=name)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log")
    accuracy_ax.set(xlabel="epoch", ylabel="accuracy")
    accuracy_ax.plot([], [], "--", color="grey", label="training")
    accuracy_ax.plot([], [], color="grey", label="validation")
    accuracy_ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_confusion(counts: np.ndarray):
    """A confusion matrix with the diagonal blanked, so the mistakes carry the colour."""
    mistakes = counts.astype(float).copy()
    np.fill_diagonal(mistakes, np.nan)
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    image = ax.imshow(mistakes, cmap="cividis")
    for (i, j), count in np.ndenumerate(counts):
        if i != j and count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=8,
                    color="white" if count < np.nanmax(mistakes) / 2 else "black")
        elif i == j:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7, color="#444")
    ax.set(xticks=range(N_CLASSES), yticks=range(N_CLASSES), xlabel="predicted digit",
           ylabel="true digit")
    ax.grid(False)
    fig.colorbar(image, ax=ax, label="mistakes")
    fig.tight_layout()
    return fig


# --- The stepper over SGD snapshots -----------------------------------------------------------


@dataclass
class Snapshot:
    """Softmax regression after ``step`` SGD updates: its weights, loss and accuracy."""

    step: int
    W: np.ndarray
    loss: float
    accuracy: float


def templates_png(W: np.ndarray, scale: int = 1) -> bytes:
    """Ten weight templates side by side as one small palette PNG (a few kB).

    Each template gets its own symmetric scale, so its pattern shows from the first step on.
    """
    from PIL import Image

    columns = W.T.reshape(N_CLASSES, SIDE, SIDE)
    limits = np.abs(columns).max(axis=(1, 2), keepdims=True)
    unit = np.divide(columns, limits, out=np.zeros_like(columns), where=limits > 0)
    gap = np.full((N_CLASSES, SIDE, 2), np.nan)
    strip = np.concatenate([unit, gap], axis=2).transpose(1, 0, 2).reshape(SIDE, -1)[:, :-2]
    cmap = plt.get_cmap(DIVERGING_CMAP, 64)
    levels = np.where(np.isnan(strip), 64, np.round((strip + 1) / 2 * 63)).astype(np.uint8)
    palette = (cmap(np.arange(64))[:, :3] * 255).astype(np.uint8).tolist() + [[255, 255, 255]]
    image = Image.fromarray(levels, mode="P")
    image.putpalette([channel for colour in palette for channel in colour])
    image = image.resize((image.width * scale, image.height * scale), Image.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _curve(history: Sequence[Snapshot], last_step: int, value: str, label: str, colour: str,
           ylim: tuple[float, float]) -> str:
    canvas = Canvas(250, 120, xlim=(0, last_step), ylim=ylim, box=(44, 10, 242, 90))
    canvas.axes(xlabel="SGD step", ylabel=label, xticks=(0, last_step), yticks=ylim,
                tick_format="{:.3g}")
    canvas.polyline([s.step for s in history], [getattr(s, value) for s in history], colour)
    canvas.circle(history[-1].step, getattr(history[-1], value), 4, colour)
    return canvas.to_svg(f"{label} over the first {history[-1].step} SGD steps, "
                         f"now {getattr(history[-1], value):.3f}")


def sgd_frame(history: Sequence[Snapshot], last_step: int, loss_limit: float) -> str:
    """One frame: the templates after ``history[-1].step`` steps, the loss and accuracy so far."""
    now = history[-1]
    png = base64.b64encode(templates_png(now.W)).decode("ascii")
    alt = (f"The ten weight templates of softmax regression, digits 0 to 9, after {now.step} SGD "
           f"steps: purple pixels raise a digit's score, orange pixels lower it.")
    image = (f'<img src="data:image/png;base64,{png}" alt="{alt}" style="width:100%;'
             f'max-width:600px;image-rendering:pixelated;display:block;background:white">')
    charts = (_curve(history, last_step, "loss", "training loss L", PALETTE["vermillion"],
                     (0.0, loss_limit))
              + _curve(history, last_step, "accuracy", "validation accuracy",
                       PALETTE["blue"], (0.0, 1.0)))
    readout = (f'<div class="mlbook-readout">step <b>{now.step}</b> · loss L = {now.loss:.4f} · '
               f"validation accuracy = {now.accuracy:.3f}</div>")
    return (f'<div class="mlbook-frame" data-step="{now.step}" data-loss="{now.loss:.6g}" '
            f'data-accuracy="{now.accuracy:.6g}">{image}'
            f'<div style="display:flex;flex-wrap:wrap;gap:8px;max-width:600px">{charts}</div>'
            f"{readout}</div>")


def frames(snapshots: Sequence[Snapshot], loss_limit: float) -> list[str]:
    last_step = max(snapshots[-1].step, 1)  # a run of one snapshot still needs an x range
    return [sgd_frame(snapshots[: i + 1], last_step, loss_limit) for i in range(len(snapshots))]


def sgd_stepper(runs: dict[str, Sequence[Snapshot]],
                train: Callable[[float, int], Sequence[Snapshot]] | None = None):
    """A stepper over SGD runs, keyed by learning-rate label.

    With ``train`` (learning rate, batch size → snapshots) and a live kernel, controls below it run
    SGD with any learning rate and batch size. The static build leaves them out.
    """
    if not runs or not all(runs.values()):
        raise ValueError("sgd_stepper needs at least one run, each with at least one snapshot.")
    loss_limit = max(s.loss for run in runs.values() for s in run[:1]) * 1.05
    stepper = Stepper({(label,): frames(run, loss_limit) for label, run in runs.items()},
                      dims=["learning rate η"], step_label="snapshot")
    first = next(iter(runs.values()))[-1]
    fallback = noscript_image(
        "data:image/png;base64," + base64.b64encode(templates_png(first.W)).decode("ascii"),
        f"The ten weight templates after {first.step} SGD steps.")
    import ipywidgets as widgets

    parts = [stepper, widgets.HTML(fallback)]
    if train is not None and not is_static_build():
        parts.append(_live_controls(stepper, train, loss_limit))
    return widgets.VBox(parts)


def _live_controls(stepper: Stepper, train, loss_limit: float):
    import ipywidgets as widgets

    eta = widgets.FloatText(value=0.5, description="η", layout=widgets.Layout(width="12em"))
    batch = widgets.IntText(value=64, description="batch size",
                            style={"description_width": "initial"},
                            layout=widgets.Layout(width="12em"))
    button = widgets.Button(description="train and show")
    status = widgets.HTML()

    def run(_):
        key = (stepper.dropdowns[0].value,)
        if not (math.isfinite(eta.value) and 0 < eta.value <= 100):
            status.value = message("Choose a learning rate η with 0 < η ≤ 100.", "error")
            return
        if not 1 <= batch.value <= 5000:
            status.value = message("Choose a batch size between 1 and 5000.", "error")
            return
        status.value = message("training…")
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            snapshots = train(eta.value, batch.value)
        if not all(math.isfinite(s.loss) for s in snapshots):
            status.value = message(f"η = {eta.value:g} diverged: the loss became infinite.",
                                   "error")
            return
        stepper.set_run(key, frames(snapshots, loss_limit))
        status.value = message(f"Showing η = {eta.value:g}, batch size {batch.value} in place of "
                               f"the run chosen above.")

    button.on_click(run)
    return widgets.VBox([widgets.HBox([eta, batch, button]), status])

