"""Plumbing for the MNIST chapter: devices, tensor data, training loops with progress bars,
pictures of digits, weights and filters, the curvature of softmax regression, a reader's own
image prepared the way MNIST's digits were, and the full-data results that
``scripts/bench_mnist.py`` writes.

The maths the chapter teaches (softmax, cross-entropy, the hand-derived gradient, SGD, the
training and evaluation loops) lives in the chapter itself; this module holds what a reader need
not read.
"""

from __future__ import annotations

import copy
import html
import io
import json
import math
import numbers
import os
import random
import sys
import textwrap
import time
import tokenize
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F
from matplotlib.ticker import MaxNLocator
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from mlbook.plotting import DIVERGING_CMAP, PALETTE

N_CLASSES = 10
SIDE = 28  # MNIST images are SIDE × SIDE pixels
BUILD_ENV = "MLBOOK_BUILD"  # the book's build sets it to "static" while it runs the notebooks


# --- Devices and reproducibility --------------------------------------------------------------


def pick_device() -> torch.device:
    """CUDA if a GPU is visible, else Apple's MPS, else the CPU."""
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
    # Deterministic kernels wherever PyTorch has them; an operation without one (some on GPUs)
    # warns instead of stopping the run.
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False


# --- The chapter's own code, for tests and the benchmark ---------------------------------------


def _code_cells(notebook) -> list[str]:
    import nbformat

    cells = []
    for cell in nbformat.read(str(notebook), as_version=4).cells:
        if cell.cell_type != "code":
            continue
        # IPython's %magics and !commands are not Python; no definition uses them.
        cells.append("\n".join(line[: len(line) - len(line.lstrip())] + "pass"
                               if line.lstrip().startswith(("%", "!")) else line
                               for line in cell.source.splitlines()))
    return cells


def chapter_definitions(notebook) -> dict:
    """The functions and classes a chapter notebook defines, without running its other code.

    Tests and benchmarks call the chapter's own code this way, so they check what the reader reads.
    Functions that use the chapter's variables (``device``, the data) find them in the returned
    dictionary, which is their global namespace: set them there before calling.
    """
    import ast

    namespace: dict = {"np": np, "torch": torch, "nn": nn, "F": F, "math": math}
    for source in _code_cells(notebook):
        tree = ast.parse(source)
        tree.body = [node for node in tree.body
                     if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
        exec(compile(tree, f"{notebook}", "exec"), namespace)
    return namespace


def chapter_recipes(notebook) -> dict[str, dict]:
    """The chapter's training recipes: its top-level ``<name>_recipe = {...}`` dictionaries."""
    import ast

    recipes = {}
    for source in _code_cells(notebook):
        for node in ast.parse(source).body:
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)
                    and node.targets[0].id.endswith("_recipe")):
                recipes[node.targets[0].id] = ast.literal_eval(node.value)
    return recipes


# The chapter's code that produced the full-data results: a change to any of it (or to a recipe)
# without re-running scripts/bench_mnist.py makes the chapter's check of the results file fail.
RESULTS_CODE = ("log_softmax", "loss_and_gradient", "accuracy", "sgd",
                "SoftmaxRegression.__init__", "SoftmaxRegression.forward", "one_epoch",
                "evaluate", "train_softmax", "make_mlp", "train")


def source_fingerprint(sources: Sequence[str]) -> str:
    """A SHA-256 of Python sources that ignores comments, blank lines and indentation width."""
    import hashlib

    skip = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}
    marks = {tokenize.INDENT: ">", tokenize.DEDENT: "<", tokenize.NEWLINE: ";"}
    digest = hashlib.sha256()
    for source in sources:
        lines = io.StringIO(textwrap.dedent(source)).readline
        tokens = [marks.get(token.type, token.string)
                  for token in tokenize.generate_tokens(lines) if token.type not in skip]
        digest.update((" ".join(tokens) + "\n").encode())
    return digest.hexdigest()


def code_fingerprint(namespace: Mapping, names: Sequence[str] = RESULTS_CODE) -> str | None:
    """The fingerprint of the functions ``names`` (``"Class.method"`` for methods) as defined in
    ``namespace``, from their source (a notebook's ``globals()`` in a running kernel); None if
    one is missing or its source cannot be read."""
    import inspect

    sources = []
    try:
        for name in names:
            obj = namespace[name.split(".")[0]]
            for attribute in name.split(".")[1:]:
                obj = getattr(obj, attribute)
            sources.append(inspect.getsource(obj))
    except (KeyError, AttributeError, OSError, TypeError):
        return None
    return source_fingerprint(sources)


def notebook_fingerprint(notebook, names: Sequence[str] = RESULTS_CODE) -> str:
    """The same fingerprint as :func:`code_fingerprint`, read from the notebook file."""
    import ast

    found: dict[str, str] = {}
    for source in _code_cells(notebook):
        lines = source.splitlines(keepends=True)

        def text(node, lines=lines):
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            return "".join(lines[first - 1: node.end_lineno])

        for node in ast.parse(source).body:
            if isinstance(node, ast.FunctionDef):
                found[node.name] = text(node)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef):
                        found[f"{node.name}.{item.name}"] = text(item)
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(f"{notebook} defines no {', '.join(missing)}")
    return source_fingerprint([found[name] for name in names])


# --- Data as tensors --------------------------------------------------------------------------


def as_arrays(dataset) -> tuple[np.ndarray, np.ndarray]:
    """A torchvision MNIST data set as ``X`` (N × 784, float32 in [0, 1]) and ``y`` (N, int64)."""
    images = dataset.data.numpy().reshape(len(dataset.data), -1)
    return images.astype(np.float32) / 255.0, dataset.targets.numpy().astype(np.int64)


def describe_training_data(labels: np.ndarray) -> str:
    """Which MNIST training images these are, in words, from their labels."""
    counts = np.bincount(labels, minlength=N_CLASSES)
    if len(labels) == 60_000:
        return "all of MNIST's training images"
    if len(labels) == 5_000 and np.all(counts == 500):
        return "the book's offline mirror, the first 500 training images of each digit"
    return "a subset of MNIST's training images"


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
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != SIDE * SIDE:
        raise ValueError(f"as_images needs rows of {SIDE * SIDE} pixels (shape N × "
                         f"{SIDE * SIDE}), got shape {X.shape}.")
    return ((torch.from_numpy(X) - mean) / std).reshape(-1, 1, SIDE, SIDE)


def loader(images: torch.Tensor, labels: np.ndarray | torch.Tensor, batch_size: int,
           shuffle: bool = False, seed: int = 0) -> DataLoader:
    """A DataLoader over in-memory tensors; shuffling uses its own seeded generator."""
    if len(images) != len(labels):
        raise ValueError(f"Size mismatch: {len(images)} images but {len(labels)} labels.")
    if isinstance(batch_size, bool) or not (isinstance(batch_size, numbers.Integral)
                                            and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive whole number, got {batch_size!r}.")
    dataset = TensorDataset(images, torch.as_tensor(labels))
    generator = torch.Generator().manual_seed(seed) if shuffle else None
    return DataLoader(dataset, batch_size=int(batch_size), shuffle=shuffle, generator=generator)


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
    """A tqdm bar counting images: live in Jupyter, one final line of text in the book's build."""
    if os.environ.get(BUILD_ENV) == "static":
        from tqdm import tqdm

        return tqdm(total=total, desc=description, unit="img", unit_scale=True,
                    file=_FinalLine(sys.stderr), mininterval=float("inf"), ascii=True,
                    bar_format="{l_bar}{bar:20}{r_bar}")
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="img", unit_scale=True, mininterval=0.5)


@dataclass
class EpochResult:
    """One epoch: the training numbers are means over its batches, taken in training mode while
    the weights changed; the validation numbers are measured after it, in evaluation mode."""

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
        loss = F.cross_entropy(logits, labels)                   # loss
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
    """Softmax probabilities (N × 10) for ``images``, on the CPU, in evaluation mode."""
    model.eval()
    chunks = [torch.softmax(model(chunk.to(device)), dim=1).cpu()
              for chunk in images.split(batch_size)]
    return torch.cat(chunks)


@torch.no_grad()
def evaluate(model: nn.Module, images: torch.Tensor, labels, device: torch.device,
             batch_size: int = 1000) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of ``model`` on ``images``, in evaluation mode.

    The same computation as the chapter's own evaluation loop (a test checks that they agree).
    """
    model.eval()
    labels = torch.as_tensor(labels)
    total_loss, correct = 0.0, 0
    for chunk, chunk_labels in zip(images.split(batch_size), labels.split(batch_size),
                                   strict=True):
        scores = model(chunk.to(device)).cpu()
        total_loss += F.cross_entropy(scores, chunk_labels, reduction="sum").item()
        correct += (scores.argmax(dim=1) == chunk_labels).sum().item()
    return total_loss / len(labels), correct / len(labels)


def best_epoch(history: Sequence[EpochResult]) -> EpochResult:
    """The epoch with the lowest validation loss: the checkpoint that ``fit`` keeps."""
    finite = [r for r in history if math.isfinite(r.validation_loss)]
    if not finite:
        raise ValueError("no epoch has a finite validation loss: the run diverged.")
    return min(finite, key=lambda r: r.validation_loss)


def fit(model: nn.Module, batches: DataLoader, validation: tuple[torch.Tensor, np.ndarray],
        optimizer, epochs: int, device: torch.device, scheduler=None,
        name: str = "model", restore_best: bool = False) -> list[EpochResult]:
    """Train for ``epochs`` epochs, validating after each; returns one EpochResult per epoch.

    With ``restore_best``, the model ends with the weights of its best epoch (lowest validation
    loss, see :func:`best_epoch`), not those of its last. One progress bar covers the run: images
    seen, throughput, epoch, loss and the last validation accuracy.
    """
    history, best_loss, best_state = [], math.inf, None
    with progress_bar(epochs * len(batches.dataset), name) as bar:
        for epoch in range(1, epochs + 1):
            start = time.perf_counter()
            train_loss, train_accuracy = train_one_epoch(model, batches, optimizer, device,
                                                         scheduler, bar)
            seconds = time.perf_counter() - start
            validation_loss, validation_accuracy = evaluate(model, *validation, device)
            history.append(EpochResult(epoch, train_loss, train_accuracy, validation_loss,
                                       validation_accuracy, seconds))
            if restore_best and validation_loss < best_loss:
                best_loss, best_state = validation_loss, copy.deepcopy(model.state_dict())
            bar.set_postfix(epoch=f"{epoch}/{epochs}", loss=f"{train_loss:.3f}",
                            val_acc=f"{validation_accuracy:.3f}", refresh=False)
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def small_cnn(channels: tuple[int, int] = (16, 32), batch_norm: bool = True) -> nn.Sequential:
    """The chapter's CNN: two conv–batch-norm–ReLU–pool blocks, then one linear layer.

    Each block keeps the image size (padding 1) and then halves it (pooling): 28 → 14 → 7.
    ``batch_norm=False`` leaves the batch-norm layers out (the chapter's Exercise 5).
    """
    first, second = channels

    def block(inputs: int, outputs: int) -> list[nn.Module]:
        norm = [nn.BatchNorm2d(outputs)] if batch_norm else []
        return [nn.Conv2d(inputs, outputs, kernel_size=3, padding=1), *norm, nn.ReLU(),
                nn.MaxPool2d(2)]

    return nn.Sequential(*block(1, first), *block(first, second), nn.Flatten(),
                         nn.Linear(second * 7 * 7, N_CLASSES))


def standard_error(accuracy: float, n: int) -> float:
    """The binomial standard error of an accuracy measured on ``n`` independent images."""
    if not (0 <= accuracy <= 1 and n >= 1):
        raise ValueError(f"need an accuracy in [0, 1] and n ≥ 1 images, got {accuracy} and {n}.")
    return math.sqrt(accuracy * (1 - accuracy) / n)


def confusion_matrix(true: Sequence[int], predicted: Sequence[int]) -> np.ndarray:
    """Counts ``C[i, j]`` of images of digit ``i`` predicted as ``j``."""
    true, predicted = np.asarray(true), np.asarray(predicted)
    for name, digits in (("true", true), ("predicted", predicted)):
        if digits.size and not (0 <= digits.min() and digits.max() < N_CLASSES):
            raise ValueError(f"{name} labels must be digits 0 to {N_CLASSES - 1}.")
    counts = np.zeros((N_CLASSES, N_CLASSES), dtype=np.int64)
    np.add.at(counts, (true, predicted), 1)
    return counts


# --- The curvature of softmax regression ------------------------------------------------------


def softmax_hessian_top_eigenvalue(W: np.ndarray, b: np.ndarray, X: np.ndarray,
                                   iterations: int = 60, seed: int = 0) -> float:
    """The largest eigenvalue of the Hessian of the mean cross-entropy of softmax regression,
    with respect to all of (W, b), by power iteration on Hessian-vector products.

    For one image the Hessian in the scores is diag(p) − p pᵀ, so with X̃ = [X 1] and a direction
    V (one column per class), H V = X̃ᵀ M / N with M = P ⊙ (X̃V) − P ⊙ (row sums of P ⊙ X̃V).
    The Hessian is positive semi-definite, so power iteration finds its largest eigenvalue.
    """
    X1 = np.hstack([X, np.ones((len(X), 1), dtype=X.dtype)])
    scores = X1 @ np.vstack([W, b[None, :]]).astype(X.dtype)
    P = np.exp(scores - scores.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    V = np.random.default_rng(seed).normal(size=(X1.shape[1], W.shape[1])).astype(X.dtype)
    eigenvalue = 0.0
    for _ in range(iterations):
        V /= np.linalg.norm(V)
        projected = X1 @ V
        weighted = P * projected
        HV = X1.T @ (weighted - P * weighted.sum(axis=1, keepdims=True)) / len(X1)
        eigenvalue = float(np.sum(V * HV))
        V = HV
    return eigenvalue


# --- A reader's own image ---------------------------------------------------------------------


def mnist_style(image, box: int = 20) -> np.ndarray:
    """One picture of a digit, prepared the way MNIST's digits were (LeCun et al., 1998).

    ``image`` is a 2-D array of grey levels (0 to 255, or 0 to 1), dark ink on light paper or
    light ink on dark. Returns a 28 × 28 float32 array in [0, 1] with white ink (1) on black (0):
    the digit's bounding box scaled to fit a ``box`` × ``box`` square with its aspect ratio kept,
    then shifted so that the ink's centre of mass sits at pixel (14, 14), where MNIST puts it.
    """
    array = np.asarray(image, dtype=np.float64)
    if array.ndim != 2 or min(array.shape) < 2:
        raise ValueError(f"mnist_style needs one grey-scale picture, a 2-D array (height × "
                         f"width), got shape {array.shape}; convert a colour photo first, e.g. "
                         "np.asarray(Image.open(path).convert('L')).")
    if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 255:
        raise ValueError("grey levels must be finite numbers from 0 to 255 (or 0 to 1).")
    if array.max() > 1:
        array = array / 255
    # Paper covers most of a photo, so the median grey level is the paper's; ink is whatever
    # differs from it, dark or light.
    ink = np.abs(array - np.median(array))
    if ink.max() < 0.1:
        raise ValueError("no digit found: the picture is (nearly) one uniform grey.")
    ink = np.clip((ink / ink.max() - 0.25) / 0.75, 0, 1)  # drop the paper's texture
    rows, columns = np.nonzero(ink)
    ink = ink[rows.min(): rows.max() + 1, columns.min(): columns.max() + 1]
    scale = box / max(ink.shape)
    size = [max(1, round(side * scale)) for side in ink.shape]
    digit = F.interpolate(torch.from_numpy(ink)[None, None], size=size, mode="bilinear",
                          antialias=True, align_corners=False)[0, 0].numpy()
    digit = np.clip(digit, 0, None)
    digit /= digit.max()
    centre = [np.sum(np.arange(n) * digit.sum(axis=1 - axis)) / digit.sum()
              for axis, n in enumerate(digit.shape)]
    field = np.zeros((SIDE, SIDE), dtype=np.float32)
    top, left = (int(np.clip(round(SIDE / 2 - c), 0, SIDE - n))
                 for c, n in zip(centre, digit.shape, strict=True))
    field[top: top + digit.shape[0], left: left + digit.shape[1]] = digit
    return field


# --- Full-data results (scripts/bench_mnist.py) -----------------------------------------------

RESULTS_FILE = Path(__file__).resolve().parent / "data" / "mnist_full_results.json"
RESULTS_SCHEMA = 1
_RESULT_KEYS = {"schema", "written_by", "date", "machine", "cpu_count", "torch_threads",
                "device", "torch", "python", "load_average", "notes", "data", "recipes",
                "code", "code_fingerprint", "models"}
_MODEL_KEYS = {"key", "model", "recipe", "changes", "parameters", "epochs", "epoch_used",
               "validation_accuracy", "test_accuracy", "test_standard_error", "test_errors",
               "train_seconds"}


def load_full_results(path: str | os.PathLike = RESULTS_FILE) -> dict:
    """The full-data results file, written by ``scripts/bench_mnist.py``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no full-data results at {path}: run "
                                "`python scripts/bench_mnist.py --data-root <full MNIST>`.")
    return json.loads(path.read_text())


def full_results_problems(results: Mapping, recipes: Mapping[str, Mapping],
                          fingerprint: str | None) -> list[str]:
    """What disagrees between ``results`` and the chapter: the schema, the recipes (the
    chapter's ``*_recipe`` dictionaries) or the training code (:func:`code_fingerprint`)."""
    missing = _RESULT_KEYS - set(results)
    if missing or results.get("schema") != RESULTS_SCHEMA:
        return [f"the results file lacks {sorted(missing)} or has schema "
                f"{results.get('schema')} (expected {RESULTS_SCHEMA})"]
    problems = []
    for model in results["models"]:
        if _MODEL_KEYS - set(model):
            problems.append(f"result {model.get('key')} lacks {sorted(_MODEL_KEYS - set(model))}")
        elif model["recipe"] is not None and model["recipe"] not in results["recipes"]:
            problems.append(f"result {model['key']} names an unknown recipe {model['recipe']}")
    if dict(results["recipes"]) != {k: dict(v) for k, v in recipes.items()}:
        problems.append(f"the chapter's recipes {dict(recipes)} differ from those the results "
                        f"were measured with, {results['recipes']}")
    if list(results["code"]) != list(RESULTS_CODE) or results["code_fingerprint"] != fingerprint:
        problems.append(f"the chapter's training code ({', '.join(RESULTS_CODE)}) changed since "
                        "the results were measured")
    return problems


def check_full_results(results: Mapping, recipes: Mapping[str, Mapping],
                       fingerprint: str | None) -> None:
    """Raise ValueError, saying what to do, if :func:`full_results_problems` finds any."""
    problems = full_results_problems(results, recipes, fingerprint)
    if problems:
        raise ValueError("; ".join(problems) + ". Re-run `python scripts/bench_mnist.py "
                         f"--data-root <full MNIST>` to regenerate {RESULTS_FILE.name}.")


def result(results: Mapping, key: str) -> dict:
    """One model's row of the results file."""
    rows = {row["key"]: row for row in results["models"]}
    if key not in rows:
        raise KeyError(f"no result {key!r} in the results file; it has {sorted(rows)}")
    return rows[key]


class Table:
    """A small HTML table with a caption (displays as HTML in Jupyter, Colab and the book)."""

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence], caption: str):
        self.header, self.rows, self.caption = list(header), [list(r) for r in rows], caption

    def _repr_html_(self) -> str:
        def text(value) -> str:
            return html.escape(str(value), quote=False)

        head = "".join(f'<th scope="col">{text(h)}</th>' for h in self.header)
        body = "".join("<tr>" + "".join(
            (f'<th scope="row">{text(c)}</th>' if i == 0 else f"<td>{text(c)}</td>")
            for i, c in enumerate(row)) + "</tr>" for row in self.rows)
        # The caption inherits the page's colours (readable in light and dark mode).
        caption = ('<caption style="caption-side: top; color: inherit; background: none; '
                   f'text-align: left">{text(self.caption)}</caption>')
        return (f'<table class="table mlbook-table">{caption}'
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def __repr__(self) -> str:
        widths = [max(len(str(c)) for c in column) for column in zip(self.header, *self.rows,
                                                                     strict=True)]
        lines = [self.caption] + ["  ".join(str(c).ljust(w) for c, w in zip(row, widths,
                                                                          strict=True))
                                  for row in [self.header, *self.rows]]
        return "\n".join(line.rstrip() for line in lines)


def percent_with_error(accuracy: float, error: float) -> str:
    """An accuracy and its standard error as '96.66% ± 0.18%'."""
    return f"{accuracy:.2%} ± {error:.2%}"


def full_results_table(results: Mapping, keys: Sequence[str]) -> Table:
    """The results file's rows ``keys`` as a captioned table."""
    data = results["data"]
    rows = []
    for key in keys:
        row = result(results, key)
        recipe = ", ".join([row["recipe"] or "none"]
                           + [f"{k} = {v:g}" for k, v in row["changes"].items()])
        rows.append([row["model"], recipe,
                     row["epoch_used"] if row["epoch_used"] is not None else "–",
                     f"{row['validation_accuracy']:.2%}",
                     percent_with_error(row["test_accuracy"], row["test_standard_error"]),
                     f"{row['test_errors']:,}", f"{row['train_seconds']:.0f} s"])
    copy = ("a near-exact copy of MNIST" if "near-exact" in data["provenance"]
            else data["provenance"])
    loaded = (results["load_average"] or 0) > (results["cpu_count"] or 1)
    caption = (f"Full data, not this page's run: the chapter's recipes on "
               f"{data['training_images']:,} training images ({copy}; "
               f"{data['validation_images']:,} held out for validation) and "
               f"{data['test_images']:,} test images. {results['written_by']}, "
               f"{results['date']}, {results['device']} ({results['machine']}), "
               f"{results['torch_threads']} threads"
               + (" on a busy shared machine (times are pessimistic)." if loaded else "."))
    return Table(["model", "recipe", "epoch kept", "validation", "test ± SE", "test errors",
                  "training"], rows, caption)


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


def show_templates(weights: Mapping[str, np.ndarray] | np.ndarray):
    """The ten columns of 784 × 10 weight matrices as 28 × 28 images, one row per matrix.

    ``weights`` is one matrix or a mapping from a row label to a matrix. Each row shares one
    symmetric colour scale (purple positive, orange negative).
    """
    if not isinstance(weights, Mapping):
        weights = {"": weights}
    fig, axes = plt.subplots(len(weights), N_CLASSES, squeeze=False,
                             figsize=(10, 1.2 * len(weights) + 0.15))
    for index, (row, (label, W)) in enumerate(zip(axes, weights.items(), strict=True)):
        limit = float(np.abs(W).max()) or 1.0
        for digit, ax in enumerate(row):
            ax.imshow(W[:, digit].reshape(SIDE, SIDE), cmap=DIVERGING_CMAP, vmin=-limit,
                      vmax=limit)
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if index == 0:
                ax.set_title(str(digit), fontsize=10)
        row[0].set_ylabel(label, fontsize=10, rotation=0, ha="right", va="center")
    fig.tight_layout(pad=0.3)
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


def plot_learning_rates(losses: Mapping[str, np.ndarray], steps_per_epoch: int):
    """The minibatch loss at each SGD step, one colour per learning rate, on a log scale.

    Thin lines are the losses of single batches; thick lines their running mean over a quarter
    of an epoch.
    """
    fig, ax = plt.subplots(figsize=(8, 3.6))
    window = max(1, steps_per_epoch // 4)
    colours = [PALETTE[c] for c in ("sky", "blue", "vermillion", "green")]
    lowest = math.inf
    for colour, (label, curve) in zip(colours, losses.items(), strict=False):
        steps = np.arange(len(curve))
        ax.plot(steps, curve, color=colour, linewidth=0.6, alpha=0.45)
        # The mean of the last `window` batches (fewer at the start, so the curve starts at 0).
        totals = np.cumsum(np.concatenate([[0.0], curve]))
        starts = np.maximum(0, steps + 1 - window)
        smooth = (totals[steps + 1] - totals[starts]) / (steps + 1 - starts)
        ax.plot(steps, smooth, color=colour, linewidth=2.2, label=label)
        lowest = min(lowest, float(smooth.min()))
    ax.set(xlabel=f"SGD step ({steps_per_epoch} steps = one epoch)",
           ylabel="minibatch loss L (log scale)", yscale="log")
    ax.set_ylim(bottom=lowest / 3)  # single lucky batches would stretch the axis
    ax.legend(fontsize=9, loc="upper right")
    fig.tight_layout()
    return fig


def plot_histories(histories: Mapping[str, Sequence[EpochResult]], mark_best: bool = True):
    """Loss and accuracy per epoch, training (dashed) and validation (solid), one colour a model.

    Training values are means over each epoch's batches in training mode; validation values are
    measured after each epoch in evaluation mode. A ring marks the best epoch by validation loss.
    """
    fig, (loss_ax, accuracy_ax) = plt.subplots(1, 2, figsize=(9, 3.4))
    colours = [PALETTE[c] for c in ("blue", "orange", "green", "vermillion")]
    for colour, (name, history) in zip(colours, histories.items(), strict=False):
        epochs = [r.epoch for r in history]
        loss_ax.plot(epochs, [r.train_loss for r in history], "--", color=colour)
        loss_ax.plot(epochs, [r.validation_loss for r in history], color=colour, label=name)
        accuracy_ax.plot(epochs, [r.train_accuracy for r in history], "--", color=colour)
        accuracy_ax.plot(epochs, [r.validation_accuracy for r in history], color=colour,
                         label=name)
        if mark_best:
            best = best_epoch(history)
            for ax, value in ((loss_ax, best.validation_loss),
                              (accuracy_ax, best.validation_accuracy)):
                ax.plot(best.epoch, value, "o", markersize=10, markerfacecolor="none",
                        markeredgecolor=colour, markeredgewidth=1.8)
    loss_ax.set(xlabel="epoch", ylabel="cross-entropy loss", yscale="log")
    accuracy_ax.set(xlabel="epoch", ylabel="accuracy")
    for ax in (loss_ax, accuracy_ax):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    accuracy_ax.plot([], [], "--", color="grey", label="training (epoch mean)")
    accuracy_ax.plot([], [], color="grey", label="validation")
    if mark_best:
        accuracy_ax.plot([], [], "o", color="grey", markerfacecolor="none",
                         label="best validation loss")
    accuracy_ax.legend(fontsize=8)
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
