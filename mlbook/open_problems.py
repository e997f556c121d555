"""Plumbing for the chapter "Open problems": measuring, shrinking, protecting and shipping the CNN
of the MNIST chapter.

Four groups, in the chapter's order:

- **size and speed**: :func:`measure` (bytes, parameters, latency, throughput, accuracy),
  :func:`quantize_int8` (post-training int8 with torchao's PT2E flow), :func:`prune_weights`
  (unstructured), :func:`prune_channels` (structured), :func:`distillation_loss` and
  :func:`distil`;
- **privacy**: :func:`membership_attack` (the loss-threshold attack), :func:`dp_cnn`,
  :func:`train_private` (DP-SGD with Opacus), :func:`epsilon_for`, :func:`client_splits` and
  :func:`federated_averaging`;
- **deployment**: :func:`export_onnx`, :func:`onnx_parity`;
- **results files**: :func:`load_results`, :func:`environment` (the provenance every file carries).

Every public function checks its input and raises a ``ValueError`` or ``TypeError`` that says
what to pass instead.
"""

from __future__ import annotations

import copy
import io
import json
import logging
import math
import os
import platform
import statistics
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mlbook.mnist import N_CLASSES, SIDE, evaluate, loader, small_cnn, train_one_epoch

CPU = torch.device("cpu")
# Results of the benchmark scripts, shipped with the package (so Colab readers have them too).
RESULTS_DIR = Path(__file__).resolve().parent / "data"


# The recipes of the size-and-speed section, shared by the chapter and scripts/bench_compression.py
# (the chapter asserts that the results file it shows used the same).
COMPRESSION = {
    "teacher": {"channels": [16, 32], "epochs": 3, "batch_size": 128, "max_lr": 1e-2},
    "calibration_images": 1000,
    "unstructured_fraction": 0.8,
    "channel_fraction": 0.5,
    "fine_tune_epochs": 1,
    "student": {"channels": [4, 8], "epochs": 3, "temperature": 4.0, "alpha": 0.9},
}


# --- Checks -------------------------------------------------------------------------------------


def check_classifier(model) -> nn.Module:
    """``model`` itself if it maps a batch of 1 × 28 × 28 images to 10 scores, else a clear error.

    The check runs one blank image through the model in evaluation mode and restores the mode.
    """
    if not isinstance(model, nn.Module) and not callable(model):
        raise TypeError(f"Expected a PyTorch model (an nn.Module such as "
                        f"mlbook.mnist.small_cnn()), got {type(model).__name__}.")
    training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        with torch.no_grad():
            scores = model(torch.zeros(1, 1, SIDE, SIDE))
    except Exception as err:
        raise ValueError(f"The model must take a batch of 1 × {SIDE} × {SIDE} images (shape "
                         f"N × 1 × {SIDE} × {SIDE}), like mlbook.mnist.small_cnn(); on one blank "
                         f"image it raised {type(err).__name__}: {err}") from None
    finally:
        if isinstance(model, nn.Module):
            model.train(training)
    if not isinstance(scores, torch.Tensor) or tuple(scores.shape) != (1, N_CLASSES):
        shape = tuple(scores.shape) if isinstance(scores, torch.Tensor) else type(scores).__name__
        raise ValueError(f"The model must return {N_CLASSES} scores per image (shape N × "
                         f"{N_CLASSES}); for one image it returned {shape}.")
    return model


def check_small_cnn(model) -> nn.Sequential:
    """``model`` if it has the layout of :func:`mlbook.mnist.small_cnn`, else a clear error."""
    kinds = [nn.Conv2d, nn.BatchNorm2d, nn.ReLU, nn.MaxPool2d, nn.Conv2d, nn.BatchNorm2d,
             nn.ReLU, nn.MaxPool2d, nn.Flatten, nn.Linear]
    if not (isinstance(model, nn.Sequential) and len(model) == len(kinds)
            and all(isinstance(layer, kind) for layer, kind in zip(model, kinds))):
        raise ValueError("Expected the CNN of the MNIST chapter, mlbook.mnist.small_cnn(...): "
                         "conv, batch norm, ReLU, pool, twice, then flatten and one linear layer. "
                         f"Got {type(model).__name__} with another layout.")
    return check_classifier(model)


def _positive(value, name: str, integer: bool = False) -> None:
    kind = int if integer else (int, float)
    if (isinstance(value, bool) or not isinstance(value, kind)
            or not math.isfinite(value) or value <= 0):
        raise ValueError(f"{name} must be a positive {'whole ' if integer else ''}number, "
                         f"got {value!r}.")


def _fraction(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ValueError(f"{name} must be a fraction with 0 ≤ {name} < 1, got {value!r}.")


def _images(images, labels=None) -> None:
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[1:] != (
            1, SIDE, SIDE):
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images)
        raise ValueError(f"images must be a tensor of shape N × 1 × {SIDE} × {SIDE} (see "
                         f"mlbook.mnist.as_images), got {shape}.")
    if len(images) == 0:
        raise ValueError("images is empty: pass at least one image.")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"{len(images)} images but {len(labels)} labels: pass one label each.")


# --- Size and speed -----------------------------------------------------------------------------


def saved_bytes(model: nn.Module) -> int:
    """Bytes of the tensors the model computes with, saved with ``torch.save``.

    For an exported or quantized graph module only the tensors its graph reads count (the PT2E
    flow keeps the float originals as unused attributes).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"saved_bytes needs an nn.Module, got {type(model).__name__}.")
    model = getattr(model, "_orig_mod", model)  # what torch.compile wrapped
    state = model.state_dict()
    graph = getattr(model, "graph", None)
    if graph is not None:
        used = {node.target for node in graph.nodes if node.op == "get_attr"}
        state = {name: tensor for name, tensor in state.items() if name in used}
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getbuffer().nbytes


def zipped_bytes(model: nn.Module) -> int:
    """:func:`saved_bytes` after zlib compression: what zeros of a pruned model save."""
    state = model.state_dict()
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return len(zlib.compress(buffer.getvalue(), level=9))


def count_nonzero(model: nn.Module) -> int:
    """Parameters that are not exactly zero (pruned weights are zero)."""
    return sum(int(torch.count_nonzero(p)) for p in model.parameters())


@torch.no_grad()
def latency_ms(model, images: torch.Tensor, batch_size: int = 1, repeats: int = 50) -> float:
    """Median milliseconds for one call of ``model`` on ``batch_size`` images (after warm-up)."""
    _positive(batch_size, "batch_size", integer=True)
    _positive(repeats, "repeats", integer=True)
    _images(images)
    if batch_size > len(images):
        raise ValueError(f"batch_size {batch_size} is larger than the {len(images)} images given.")
    batch = images[:batch_size]
    for _ in range(3):
        model(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model(batch)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


@torch.no_grad()
def accuracy(model, images: torch.Tensor, labels, batch_size: int = 1000) -> float:
    """Fraction of ``images`` whose highest score is the label."""
    _images(images, labels)
    if isinstance(model, nn.Module):
        model.eval()
    scores = torch.cat([model(chunk) for chunk in images.split(batch_size)])
    return float((scores.argmax(dim=1) == torch.as_tensor(labels)).float().mean())


@dataclass
class Measurement:
    """One row of the chapter's size-and-speed table."""

    name: str
    bytes: int
    parameters: int
    nonzero: int
    latency_ms: float          # one image (batch 1)
    images_per_second: float   # batches of 256
    accuracy: float

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def measure(name: str, model, images: torch.Tensor, labels, repeats: int = 50,
            reference: nn.Module | None = None) -> Measurement:
    """Size, parameters, latency (batch 1), throughput (batch 256) and accuracy of ``model``.

    ``reference``, optional, is the float model a quantized graph came from: its parameters are
    counted, since a quantized graph stores them as buffers.
    """
    check_classifier(model)
    _images(images, labels)
    counted = reference if reference is not None else model
    batch = min(256, len(images))
    return Measurement(
        name=name, bytes=saved_bytes(model),
        parameters=sum(p.numel() for p in counted.parameters()),
        nonzero=count_nonzero(counted) if reference is None else sum(
            p.numel() for p in reference.parameters()),
        latency_ms=latency_ms(model, images, 1, repeats),
        images_per_second=batch / latency_ms(model, images, batch, max(3, repeats // 10)) * 1000,
        accuracy=accuracy(model, images, labels))


def quiet_torchao() -> None:
    """torchao registers an enum with PyTorch's pytree at import and PyTorch logs a warning."""
    logging.getLogger("torch.utils._pytree").setLevel(logging.ERROR)


def quantize_int8(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """Post-training static int8 quantization with PyTorch 2 export and torchao's x86 quantizer.

    Weights become int8 per output channel, activations uint8 per tensor, their ranges observed
    on the ``calibration`` images; batch normalisation is folded into the convolutions. The result
    computes in float with quantize/dequantize steps (so its accuracy is the int8 model's);
    ``torch.compile`` turns it into int8 kernels for speed.
    """
    check_classifier(model)
    _images(calibration)
    quiet_torchao()
    import torchao.quantization.pt2e.quantizer.x86_inductor_quantizer as x86
    from torchao.quantization.pt2e import allow_exported_model_train_eval
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e

    model = copy.deepcopy(model).eval()
    batch = torch.export.Dim.AUTO
    graph = torch.export.export(model, (calibration[:2],),
                                dynamic_shapes=({0: batch},)).module()
    quantizer = x86.X86InductorQuantizer().set_global(
        x86.get_default_x86_inductor_quantization_config())
    observed = prepare_pt2e(graph, quantizer)
    with torch.no_grad():
        for chunk in calibration.split(256):
            observed(chunk)
    quantized = convert_pt2e(observed)
    allow_exported_model_train_eval(quantized)  # so that .eval() works as on any model
    return quantized


def int8_round_trip(weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights rounded to int8 per output channel (symmetric) and back; returns (W̃, scales).

    The scale of channel k is max|W_k| / 127, so the rounding error of each weight is at most
    half a scale step.
    """
    if not isinstance(weights, torch.Tensor) or weights.ndim < 2:
        raise ValueError("weights must be a tensor with one row per output channel (ndim ≥ 2).")
    flat = weights.detach().reshape(len(weights), -1)
    scales = flat.abs().amax(dim=1).clamp_min(1e-12) / 127
    rounded = (flat / scales[:, None]).round().clamp(-127, 127) * scales[:, None]
    return rounded.reshape(weights.shape), scales


def prune_weights(model: nn.Module, fraction: float) -> nn.Module:
    """A copy of ``model`` with the ``fraction`` smallest-magnitude weights of every convolution
    and linear layer set to zero (unstructured pruning, layer by layer; biases kept)."""
    check_classifier(model)
    _fraction(fraction, "fraction")
    from torch.nn.utils import prune

    pruned = copy.deepcopy(model)
    for layer in pruned.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            prune.l1_unstructured(layer, "weight", amount=fraction)
            prune.remove(layer, "weight")  # make the zeros permanent: a plain weight again
    return pruned


def keep_zeros(model: nn.Module) -> None:
    """Make every zero weight of ``model`` stay zero while it is fine-tuned (masks its grads)."""
    for layer in model.modules():
        if isinstance(layer, (nn.Conv2d, nn.Linear)):
            mask = (layer.weight != 0).float()
            layer.weight.register_hook(lambda grad, mask=mask: grad * mask)


def prune_channels(model: nn.Sequential, fraction: float) -> nn.Sequential:
    """A smaller ``small_cnn`` without the ``fraction`` weakest filters of each convolution.

    A filter's strength is the L1 norm of its weights times its batch-norm scale |γ|, what it
    passes on. The survivors and the weights that read them are copied into a dense network
    with fewer channels: it is smaller and faster, and needs fine-tuning to recover accuracy.
    """
    check_small_cnn(model)
    _fraction(fraction, "fraction")
    conv1, bn1, conv2, bn2, linear = model[0], model[1], model[4], model[5], model[9]

    def strongest(conv, bn):
        strength = conv.weight.detach().abs().sum(dim=(1, 2, 3)) * bn.weight.detach().abs()
        keep = max(1, round(len(strength) * (1 - fraction)))
        return strength.argsort(descending=True)[:keep].sort().values

    keep1, keep2 = strongest(conv1, bn1), strongest(conv2, bn2)
    smaller = small_cnn((len(keep1), len(keep2)))
    new1, newbn1, new2, newbn2, new_linear = (smaller[i] for i in (0, 1, 4, 5, 9))
    with torch.no_grad():
        new1.weight.copy_(conv1.weight[keep1])
        new1.bias.copy_(conv1.bias[keep1])
        new2.weight.copy_(conv2.weight[keep2][:, keep1])
        new2.bias.copy_(conv2.bias[keep2])
        for new, old, keep in ((newbn1, bn1, keep1), (newbn2, bn2, keep2)):
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(new, name).copy_(getattr(old, name)[keep])
        cells = SIDE // 4 * (SIDE // 4)  # the linear layer reads channel-major 7 × 7 blocks
        columns = (keep2[:, None] * cells + torch.arange(cells)).reshape(-1)
        new_linear.weight.copy_(linear.weight[:, columns])
        new_linear.bias.copy_(linear.bias)
    return smaller


def fine_tune(model: nn.Module, images: torch.Tensor, labels, epochs: int = 1,
              learning_rate: float = 1e-3, batch_size: int = 128, seed: int = 0) -> nn.Module:
    """Train ``model`` further with Adam at a small constant learning rate (in place)."""
    check_classifier(model)
    _images(images, labels)
    _positive(epochs, "epochs", integer=True)
    _positive(learning_rate, "learning_rate")
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    batches = loader(images, labels, batch_size, shuffle=True, seed=seed)
    for _ in range(epochs):
        train_one_epoch(model, batches, optimizer, CPU)
    return model.eval()


def distillation_loss(student_scores: torch.Tensor, teacher_scores: torch.Tensor, labels,
                      temperature: float, alpha: float) -> torch.Tensor:
    """Hinton et al.'s loss: cross-entropy against the teacher's softened probabilities (weight
    ``alpha``, the chapter's γ, times T² so its gradient keeps its size as T grows) plus
    cross-entropy against the labels (weight 1 − ``alpha``)."""
    _positive(temperature, "temperature")
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 <= alpha <= 1:
        raise ValueError(f"alpha must lie in [0, 1], got {alpha!r}.")
    if student_scores.shape != teacher_scores.shape:
        raise ValueError(f"student and teacher scores differ in shape: "
                         f"{tuple(student_scores.shape)} vs {tuple(teacher_scores.shape)}.")
    soft_targets = torch.softmax(teacher_scores / temperature, dim=1)
    soft = F.cross_entropy(student_scores / temperature, soft_targets)
    hard = F.cross_entropy(student_scores, torch.as_tensor(labels))
    return alpha * temperature**2 * soft + (1 - alpha) * hard


def distil(student: nn.Module, teacher: nn.Module | None, images: torch.Tensor, labels,
           epochs: int, temperature: float = 4.0, alpha: float = 0.9, batch_size: int = 128,
           max_lr: float = 1e-2, seed: int = 0) -> nn.Module:
    """Train ``student`` (in place) with Adam and a one-cycle schedule, on the teacher's soft
    targets by :func:`distillation_loss`; with ``teacher=None``, on the labels alone."""
    check_classifier(student)
    if teacher is not None:
        check_classifier(teacher)
        teacher.eval()
    _images(images, labels)
    _positive(epochs, "epochs", integer=True)
    batches = loader(images, labels, batch_size, shuffle=True, seed=seed)
    optimizer = torch.optim.Adam(student.parameters(), lr=max_lr / 10)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, epochs=epochs,
                                                   steps_per_epoch=len(batches))
    student.train()
    for _ in range(epochs):
        for batch, batch_labels in batches:
            scores = student(batch)
            if teacher is None:
                loss = F.cross_entropy(scores, batch_labels)
            else:
                with torch.no_grad():
                    teacher_scores = teacher(batch)
                loss = distillation_loss(scores, teacher_scores, batch_labels, temperature,
                                         alpha)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
    return student.eval()


# --- Privacy ------------------------------------------------------------------------------------


@torch.no_grad()
def example_losses(model, images: torch.Tensor, labels) -> np.ndarray:
    """Cross-entropy of each image: the attacker's only observation."""
    _images(images, labels)
    if isinstance(model, nn.Module):
        model.eval()
    scores = torch.cat([model(chunk) for chunk in images.split(1000)])
    return F.cross_entropy(scores, torch.as_tensor(labels), reduction="none").numpy()


@dataclass
class Attack:
    """The loss-threshold membership attack: its threshold and how it fared."""

    threshold: float
    accuracy: float            # on equally many members and non-members; chance is 0.5
    member_loss: float         # median loss on training images
    nonmember_loss: float      # median loss on unseen images


def membership_attack(model, members: tuple[torch.Tensor, object],
                      nonmembers: tuple[torch.Tensor, object]) -> Attack:
    """Yeom et al.'s attack: call an image a training member when its loss is below the mean
    training loss (which a model's owner often publishes). Scored on equally many members and
    non-members (the larger set is cut to the smaller one's size)."""
    member_losses = example_losses(model, *members)
    nonmember_losses = example_losses(model, *nonmembers)
    n = min(len(member_losses), len(nonmember_losses))
    member_losses, nonmember_losses = member_losses[:n], nonmember_losses[:n]
    threshold = float(member_losses.mean())
    hits = (member_losses <= threshold).sum() + (nonmember_losses > threshold).sum()
    return Attack(threshold, float(hits / (2 * n)), float(np.median(member_losses)),
                  float(np.median(nonmember_losses)))


def dp_cnn() -> nn.Sequential:
    """The small tanh CNN of Papernot et al. (2021) for DP-SGD: bounded activations, no batch
    normalisation (it mixes examples, which per-example clipping forbids)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 8, stride=2, padding=3), nn.Tanh(), nn.MaxPool2d(2, 1),
        nn.Conv2d(16, 32, 4, stride=2), nn.Tanh(), nn.MaxPool2d(2, 1),
        nn.Flatten(), nn.Linear(32 * 4 * 4, 32), nn.Tanh(), nn.Linear(32, N_CLASSES))


def _accountant(name: str):
    from opacus.accountants import PRVAccountant, RDPAccountant

    accountants = {"prv": PRVAccountant, "rdp": RDPAccountant}
    if name not in accountants:
        raise ValueError(f"accountant must be 'prv' or 'rdp', got {name!r}.")
    return accountants[name]()


def epsilon_for(noise_multiplier: float, sample_rate: float, steps: int, delta: float = 1e-5,
                accountant: str = "prv") -> float:
    """ε after ``steps`` DP-SGD steps with Poisson sampling at ``sample_rate`` (Opacus's
    accountant: 'prv', the numerical privacy-loss-distribution accountant, or 'rdp')."""
    _positive(noise_multiplier, "noise_multiplier")
    _positive(steps, "steps", integer=True)
    _positive(delta, "delta")
    if not 0 < sample_rate <= 1:
        raise ValueError(f"sample_rate must lie in (0, 1], got {sample_rate!r}.")
    counter = _accountant(accountant)
    counter.history = [(noise_multiplier, sample_rate, steps)]
    return float(counter.get_epsilon(delta=delta))


@dataclass
class PrivateRun:
    """What :func:`train_private` did: the budget, the noise it needed, accuracy per epoch."""

    epsilon: float
    delta: float
    noise_multiplier: float
    max_grad_norm: float
    batch_size: int
    epochs: int
    learning_rate: float
    accountant: str
    test_accuracy: list[float]
    seconds: float


def train_private(model: nn.Module, images: torch.Tensor, labels, test: tuple, epsilon: float,
                  delta: float = 1e-5, max_grad_norm: float = 1.0, epochs: int = 10,
                  batch_size: int = 512, learning_rate: float = 2.0, momentum: float = 0.0,
                  accountant: str = "prv", seed: int = 0) -> PrivateRun:
    """Train ``model`` with DP-SGD (Abadi et al. 2016) through Opacus, to (ε, δ) privacy.

    Opacus samples each batch by Poisson sampling (each image joins with probability
    batch_size / N), clips each image's gradient to norm ``max_grad_norm``, adds Gaussian noise
    of standard deviation σ · ``max_grad_norm`` with σ chosen by the accountant so that the whole
    run spends exactly ``epsilon``, and averages. ``model`` is trained in place (its parameters
    are shared with Opacus's wrapper).
    """
    check_classifier(model)
    _images(images, labels)
    _positive(epsilon, "epsilon (ε)")
    _positive(delta, "delta (δ)")
    if delta >= 1 / len(images):
        raise ValueError(f"delta (δ) = {delta} must be well below 1/N = {1 / len(images):.2g}: "
                         "a larger δ allows leaking whole records.")
    _positive(max_grad_norm, "max_grad_norm (the clipping norm C)")
    _positive(epochs, "epochs", integer=True)
    _positive(batch_size, "batch_size", integer=True)
    _positive(learning_rate, "learning_rate")
    if any(isinstance(layer, nn.modules.batchnorm._BatchNorm) for layer in model.modules()):
        raise ValueError("DP-SGD needs each example's own gradient, and batch normalisation "
                         "mixes the examples of a batch: use a model without it, e.g. "
                         "mlbook.open_problems.dp_cnn().")
    import warnings

    from opacus import PrivacyEngine

    torch.manual_seed(seed)
    batches = loader(images, labels, batch_size, shuffle=True, seed=seed)
    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate, momentum=momentum)
    with warnings.catch_warnings():
        # Opacus warns that secure_mode is off: its noise is not cryptographically secure.
        warnings.simplefilter("ignore")
        engine = PrivacyEngine(accountant=accountant, secure_mode=False)
        private_model, private_optimizer, private_batches = engine.make_private_with_epsilon(
            module=model, optimizer=optimizer, data_loader=batches, target_epsilon=epsilon,
            target_delta=delta, epochs=epochs, max_grad_norm=max_grad_norm,
            noise_generator=torch.Generator().manual_seed(seed))
    accuracies, seconds = [], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            train_one_epoch(private_model, private_batches, private_optimizer, CPU)
        seconds += time.perf_counter() - start
        accuracies.append(evaluate(model, *test, CPU)[1])
    spent = engine.get_epsilon(delta)
    return PrivateRun(spent, delta, private_optimizer.noise_multiplier, max_grad_norm,
                      batch_size, epochs, learning_rate, accountant, accuracies, seconds)


def client_splits(labels, clients: int = 10, digits_per_client: int = 2,
                  seed: int = 0) -> list[np.ndarray]:
    """Indices of ``labels`` dealt to ``clients`` clients, each holding only a few digits.

    McMahan et al.'s pathological non-IID split: sort the images by label, cut them into
    ``clients × digits_per_client`` shards and give each client ``digits_per_client`` random
    shards. Every image goes to exactly one client.
    """
    labels = np.asarray(labels)
    _positive(clients, "clients", integer=True)
    _positive(digits_per_client, "digits_per_client", integer=True)
    shards = clients * digits_per_client
    if len(labels) < shards:
        raise ValueError(f"{len(labels)} images cannot fill {shards} shards "
                         f"({clients} clients × {digits_per_client}): pass more images or "
                         "fewer clients.")
    order = np.argsort(labels, kind="stable")
    pieces = np.array_split(order, shards)
    dealt = np.random.default_rng(seed).permutation(shards).reshape(clients, digits_per_client)
    return [np.concatenate([pieces[s] for s in row]) for row in dealt]


def average_weights(states: Sequence[dict], weights: Sequence[float]) -> dict:
    """The weighted average of several models' state dicts (counts such as BN's are kept)."""
    if not states or len(states) != len(weights):
        raise ValueError("Pass one or more state dicts and one weight for each.")
    total = float(sum(weights))
    averaged = {}
    for name, first in states[0].items():
        if first.is_floating_point():
            averaged[name] = sum(w / total * s[name] for s, w in zip(states, weights))
        else:
            averaged[name] = first.clone()
    return averaged


def federated_averaging(model: nn.Module, clients: Sequence[tuple[torch.Tensor, object]],
                        test: tuple, rounds: int, local_epochs: int = 1,
                        learning_rate: float = 0.05, batch_size: int = 32,
                        seed: int = 0) -> list[float]:
    """FedAvg (McMahan et al. 2017): each round every client trains a copy of the global model
    on its own images with SGD, and the server averages the copies, weighted by images held.
    Returns the test accuracy after each round; ``model`` ends as the global model."""
    check_classifier(model)
    _positive(rounds, "rounds", integer=True)
    _positive(local_epochs, "local_epochs", integer=True)
    _positive(learning_rate, "learning_rate")
    if not clients:
        raise ValueError("federated_averaging needs at least one client.")
    for number, (images, labels) in enumerate(clients):
        if len(images) == 0:
            raise ValueError(f"client {number} holds no images: every client needs at least "
                             "one (see client_splits).")
        _images(images, labels)
    accuracies = []
    for round_ in range(rounds):
        states, sizes = [], []
        for number, (images, labels) in enumerate(clients):
            local = copy.deepcopy(model)
            optimizer = torch.optim.SGD(local.parameters(), lr=learning_rate, momentum=0.9)
            batches = loader(images, labels, batch_size, shuffle=True,
                             seed=seed + 1000 * round_ + number)
            for _ in range(local_epochs):
                train_one_epoch(local, batches, optimizer, CPU)
            states.append(local.state_dict())
            sizes.append(len(images))
        model.load_state_dict(average_weights(states, sizes))
        accuracies.append(evaluate(model, *test, CPU)[1])
    return accuracies


# --- Deployment ---------------------------------------------------------------------------------


def export_onnx(model: nn.Module, path: str | os.PathLike) -> Path:
    """Write ``model`` as an ONNX file through ``torch.export`` (the dynamo exporter), with a
    batch dimension of any size; returns the path."""
    check_classifier(model)
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"Name the file *.onnx, got {path.name!r}.")
    if not path.parent.is_dir():
        raise ValueError(f"The folder {path.parent} does not exist: create it first.")
    model = copy.deepcopy(model).eval()
    example = torch.zeros(2, 1, SIDE, SIDE)
    import contextlib
    import warnings

    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(model, (example,), dynamo=True,
                                    dynamic_shapes=({0: torch.export.Dim("batch")},),
                                    input_names=["images"], output_names=["scores"])
    program.save(str(path))
    return path


def onnx_session(path: str | os.PathLike, threads: int = 1):
    """An onnxruntime inference session for ``path`` on the CPU with ``threads`` threads."""
    import onnxruntime

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"No ONNX file at {path}: write one with export_onnx(model, path).")
    _positive(threads, "threads", integer=True)
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_scores(session, images: torch.Tensor) -> np.ndarray:
    """Scores from an onnxruntime session for N × 1 × 28 × 28 ``images``."""
    _images(images)
    return session.run(None, {session.get_inputs()[0].name: images.numpy()})[0]


@torch.no_grad()
def onnx_parity(model: nn.Module, session, images: torch.Tensor) -> tuple[float, float]:
    """(fraction of images with the same class, largest |Δ score|) of PyTorch against ONNX."""
    check_classifier(model)
    _images(images)
    model.eval()
    ours = torch.cat([model(chunk) for chunk in images.split(1000)]).numpy()
    theirs = np.concatenate([onnx_scores(session, chunk) for chunk in images.split(1000)])
    same = float((ours.argmax(axis=1) == theirs.argmax(axis=1)).mean())
    return same, float(np.abs(ours - theirs).max())


# --- Results files ------------------------------------------------------------------------------


def environment(threads: int, device: str, data_root: Path, training_images: int) -> dict:
    """What a results file says about where its numbers come from."""
    readme = Path(data_root) / "README.md"
    near_exact = readme.is_file() and "near-exact" in readme.read_text()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "machine": f"{platform.machine()} {platform.processor() or cpu_name()}".strip(),
        "cpu_count": os.cpu_count(), "torch_threads": threads, "device": device,
        "gpu": torch.cuda.get_device_name() if device == "cuda" else None,
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "torch": torch.__version__, "python": platform.python_version(),
        "data": {"root": str(data_root), "training_images": training_images,
                 "provenance": ("near-exact copy of MNIST's 60,000 training images (≤ 1 grey "
                                "level off); the exact test set") if near_exact
                 else "MNIST as found at the data root"},
    }


def cpu_name() -> str:
    """The processor's model name from /proc/cpuinfo (Linux), or "" where there is none."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def results_path(name: str) -> Path:
    """Where the results file ``name`` (e.g. 'open_problems_speedrun.json') lives in mlbook."""
    return RESULTS_DIR / name


def load_results(name: str) -> dict:
    """A benchmark's results file shipped in ``mlbook/data``; a clear error if it is missing."""
    path = results_path(name)
    if not path.is_file():
        raise FileNotFoundError(f"No results file {path}: run the benchmark script that writes "
                                f"it (see scripts/bench_speedrun.py and bench_privacy.py).")
    return json.loads(path.read_text())


# --- Tables and figures -------------------------------------------------------------------------


def html_table(headers: Sequence[str], rows: Sequence[Sequence], caption: str = ""):
    """A small HTML table for a notebook (right-aligned numbers, a caption for screen readers)."""
    import html

    from IPython.display import HTML

    if any(len(row) != len(headers) for row in rows):
        raise ValueError(f"every row needs {len(headers)} cells, one per header.")
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td style="text-align:{"left" if i == 0 else "right"}">{html.escape(str(c))}</td>'
        for i, c in enumerate(row)) + "</tr>" for row in rows)
    title = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return HTML(f'<table class="mlbook-table">{title}<thead><tr>{head}</tr></thead>'
                f"<tbody>{body}</tbody></table>")


def plot_tradeoff(rows: Sequence[dict]):
    """Test error (log scale, so that 1% and 1.1% stay apart) against latency, one marker per
    model (colour and shape together tell the models apart), its area proportional to its
    bytes."""
    import itertools

    import matplotlib.pyplot as plt

    from mlbook.plotting import CYCLE

    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    largest = max(r["bytes"] for r in rows)
    styles = zip(itertools.cycle(CYCLE), itertools.cycle("osD^vP<>h"))
    for (colour, marker), row in zip(styles, rows):
        ax.scatter(row["latency_ms"], 100 * (1 - row["accuracy"]), marker=marker,
                   s=40 + 600 * row["bytes"] / largest, color=colour, alpha=0.8,
                   edgecolor="black", linewidth=0.5,
                   label=f"{row['name']} ({row['bytes'] / 1024:.0f} kB)")
    ax.set(xlabel="latency per image (ms, batch 1)", ylabel="test error (%, log scale)",
           yscale="log")
    errors = [100 * (1 - r["accuracy"]) for r in rows]
    ax.set_ylim(min(errors) / 1.5, max(errors) * 1.8)  # room for the largest discs
    ax.set_yticks([t for t in (0.5, 1, 2, 5, 10, 20, 50, 100)
                   if min(errors) / 1.5 <= t <= max(errors) * 1.8])
    ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_locator(plt.NullLocator())
    legend = ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.02, 0.5))
    for handle in legend.legend_handles:
        handle.set_sizes([50])  # the legend names the models; the plot shows their size
    fig.tight_layout()
    return fig


def opacus_clipped_gradient(model: nn.Module, images: torch.Tensor, labels,
                            max_grad_norm: float) -> list[torch.Tensor]:
    """The gradient Opacus's DP-SGD step would use on this exact batch with the noise turned
    off: every example's gradient clipped to ``max_grad_norm``, summed, divided by the batch
    size. (``model`` itself is not changed.)"""
    check_classifier(model)
    _images(images, labels)
    _positive(max_grad_norm, "max_grad_norm (the clipping norm C)")
    import warnings

    from opacus import PrivacyEngine

    model = copy.deepcopy(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    batches = loader(images, labels, batch_size=len(images))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine = PrivacyEngine()
        private, private_optimizer, _ = engine.make_private(
            module=model, optimizer=optimizer, data_loader=batches, noise_multiplier=0.0,
            max_grad_norm=max_grad_norm, poisson_sampling=False)
        loss = F.cross_entropy(private(images), torch.as_tensor(labels))
        loss.backward()
        private_optimizer.pre_step()
    return [p.grad.detach().clone() for p in model.parameters()]


def plot_privacy(results: dict):
    """Test accuracy against ε from a privacy results file, with the non-private accuracy."""
    import matplotlib.pyplot as plt

    from mlbook.plotting import PALETTE

    rows = sorted(results["dp"], key=lambda r: r["epsilon"])
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot([r["epsilon"] for r in rows], [100 * r["test_accuracy"][-1] for r in rows], "o-",
            color=PALETTE["blue"], label="DP-SGD")
    ax.axhline(100 * results["non_private"]["test_accuracy"][-1], color=PALETTE["vermillion"],
               linestyle="--", label="same network, no privacy")
    ax.set(xscale="log", xlabel="privacy budget ε (δ = 1e-5)", ylabel="test accuracy (%)")
    ax.set_xticks([r["epsilon"] for r in rows], [f"{r['epsilon']:.1f}" for r in rows])
    ax.xaxis.set_minor_locator(plt.NullLocator())
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def plot_federated(results: dict):
    """Test accuracy per round of FedAvg and per epoch of central training."""
    import matplotlib.pyplot as plt

    from mlbook.plotting import PALETTE

    federated, central = results["federated_accuracy"], results["central_accuracy"]
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.plot(range(1, len(central) + 1), [100 * a for a in central], "o-",
            color=PALETTE["blue"], label="central (one epoch per round)")
    ax.plot(range(1, len(federated) + 1), [100 * a for a in federated], "s-",
            color=PALETTE["orange"], label="federated averaging, 10 clients")
    ax.set(xlabel="communication round", ylabel="test accuracy (%)")
    ax.legend(fontsize=9)
    fig.tight_layout()
    return fig


def privacy_verdict(results: dict, accuracy: float = 0.97, budget: float = 3.0) -> tuple[bool, str]:
    """Whether a privacy results file reaches ``accuracy`` at ε ≤ ``budget``, and a sentence for
    the page that says so, or what limits the benchmark's runs (from the file, never typed)."""
    _positive(budget, "budget (the largest ε)")
    if not isinstance(results, dict) or not {"dp", "environment"} <= results.keys():
        raise ValueError("Pass a privacy results file as a dict (load_results("
                         "'open_problems_privacy.json')).")
    fits = [r for r in results["dp"] if r["epsilon"] <= budget]
    if not fits:
        return False, f"No run in this file has ε ≤ {budget:g}."
    best = max(fits, key=lambda r: r["test_accuracy"][-1])
    reached = best["test_accuracy"][-1]
    goal = f"the chapter's target of {accuracy:.0%} at ε ≤ {budget:g}"
    if reached >= accuracy:
        return True, f"That meets {goal}."
    minutes = best["seconds"] / 60
    return False, (f"That is {100 * (accuracy - reached):.1f} points short of {goal}. What limits "
                   f"it: each run is short ({best['epochs']} epochs, {minutes:.0f} minutes on "
                   f"{results['environment']['torch_threads']} CPU threads, because every image "
                   "needs its own gradient), and one recipe is used for every ε, where the "
                   "published results tune the learning rate, batch size, clipping norm and "
                   "number of epochs for each budget.")
