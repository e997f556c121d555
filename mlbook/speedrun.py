"""The speedrun of the chapter "Open problems": from the recipe of PyTorch's MNIST example to the
fastest recipe found, one change at a time, each timed to 99% test accuracy.

A :class:`Recipe` says everything a run does; :data:`LADDER` lists the changes in order;
:func:`run` trains one recipe and reports the training time (testing is not timed) and the test
accuracy after every epoch. ``scripts/bench_speedrun.py`` climbs the whole ladder on the full
training set; the chapter runs the last rungs live on the data it has.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from mlbook.mnist import N_CLASSES, SIDE, train_one_epoch

TARGET = 0.99
# PyTorch's MNIST example normalises with MNIST's published pixel mean and standard deviation.
EXAMPLE_MEAN, EXAMPLE_STD = 0.1307, 0.3081
EXAMPLE_URL = "https://github.com/pytorch/examples/blob/main/mnist/main.py"
NETWORKS = ("example", "fast")
OPTIMIZERS = ("adadelta", "sgd")


class ExampleNet(nn.Module):
    """The network of PyTorch's MNIST example, layer for layer (it returns scores; the example's
    log-softmax followed by the negative log-likelihood is the same cross-entropy)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, N_CLASSES)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)


def fast_cnn(channels: tuple[int, int, int] = (8, 16, 32)) -> nn.Sequential:
    """The speedrun's network: three narrow conv–batch-norm–ReLU–pool blocks (28 → 14 → 7 → 3
    pixels), then one linear layer. Each block works on a quarter of the pixels of the one
    before, so the third costs no more than the second."""
    layers, before = [], 1
    for width in channels:
        layers += [nn.Conv2d(before, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                   nn.ReLU(), nn.MaxPool2d(2)]
        before = width
    side = SIDE // 2 ** len(channels)
    return nn.Sequential(*layers, nn.Flatten(), nn.Linear(before * side * side, N_CLASSES))


@dataclass(frozen=True)
class Recipe:
    """Everything one training run does. ``epochs`` is the most it trains; a run with
    ``stop_at_target`` stops after the first epoch that reaches :data:`TARGET`."""

    network: str = "example"          # "example" (ExampleNet) or "fast" (fast_cnn)
    decode_per_image: bool = True     # PIL image → tensor for every image, every epoch
    batch_size: int = 64
    optimizer: str = "adadelta"       # Adadelta + StepLR(γ = 0.7), or SGD + one-cycle
    learning_rate: float = 1.0        # Adadelta's lr, or SGD's one-cycle peak
    epochs: int = 14
    stop_at_target: bool = False
    channels_last: bool = False
    threads: int | None = None        # None: PyTorch's default (one per core)
    compile: bool = False
    lean_loop: bool = False           # index a shuffled tensor; no per-step .item()
    label_smoothing: float = 0.0

    def __post_init__(self):
        if self.network not in NETWORKS:
            raise ValueError(f"network must be one of {NETWORKS}, got {self.network!r}.")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}.")
        for name in ("batch_size", "epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number ≥ 1, got {value!r}.")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError(f"learning_rate must be positive, got {self.learning_rate!r}.")
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"threads must be None or a whole number ≥ 1, got {self.threads!r}.")
        if self.lean_loop and self.decode_per_image:
            raise ValueError("the lean loop indexes in-memory tensors: set "
                             "decode_per_image=False too.")

    def with_(self, **changes) -> Recipe:
        return dataclasses.replace(self, **changes)


EXAMPLE = Recipe()
# Each rung changes one thing of the best recipe so far. A rung that does not make training
# faster is reported and then dropped (the next rung starts from the best one before it).
LADDER: list[tuple[str, dict]] = [
    ("PyTorch example (14 epochs)", {}),
    ("stop at 99%", {"stop_at_target": True}),
    ("tensors in memory", {"decode_per_image": False}),
    ("smaller network (fast_cnn)", {"network": "fast"}),
    ("batch 128, one-cycle SGD, 2 epochs",
     {"batch_size": 128, "optimizer": "sgd", "learning_rate": 0.1, "epochs": 2,
      "stop_at_target": False}),
    ("label smoothing 0.1", {"label_smoothing": 0.1}),
    ("lean loop", {"lean_loop": True}),
    ("channels-last", {"channels_last": True}),
    ("one thread", {"threads": 1}),
    ("torch.compile", {"compile": True}),
]


def ladder() -> list[tuple[str, Recipe]]:
    """The rungs as (name, recipe), each recipe the previous one plus its change (before any
    rung is dropped: :func:`climb` decides that from the measurements)."""
    recipe, rungs = EXAMPLE, []
    for name, change in LADDER:
        recipe = recipe.with_(**change)
        rungs.append((name, recipe))
    return rungs


def build(network: str) -> nn.Module:
    return ExampleNet() if network == "example" else fast_cnn()


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    """uint8 images (N × 28 × 28) as normalised float tensors (N × 1 × 28 × 28)."""
    return ((pixels.float() / 255 - EXAMPLE_MEAN) / EXAMPLE_STD).unsqueeze(1)


class DecodedImages(torch.utils.data.Dataset):
    """MNIST as the example reads it: each item a PIL image turned into a normalised tensor
    (torchvision's ``ToTensor`` and ``Normalize``), converted anew every time it is drawn."""

    def __init__(self, pixels: torch.Tensor, labels: torch.Tensor):
        from torchvision import transforms

        self.pixels, self.labels = pixels, labels
        self.transform = transforms.Compose([transforms.ToTensor(),
                                             transforms.Normalize((EXAMPLE_MEAN,),
                                                                  (EXAMPLE_STD,))])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        from PIL import Image

        image = Image.fromarray(self.pixels[index].numpy(), mode="L")
        return self.transform(image), int(self.labels[index])


@dataclass
class Result:
    """One timed run: seconds of training until the target (None if not reached), and the
    test accuracy and cumulative training seconds after each epoch."""

    seconds_to_target: float | None
    epochs_run: int
    accuracy: list[float]
    seconds: list[float]
    compile_seconds: float = 0.0

    @property
    def final_accuracy(self) -> float:
        return self.accuracy[-1]


@torch.no_grad()
def _test_accuracy(model, images, labels, device, channels_last):
    model.eval()
    correct = 0
    for chunk, chunk_labels in zip(images.split(1000), labels.split(1000)):
        chunk = chunk.to(device)
        if channels_last:
            chunk = chunk.contiguous(memory_format=torch.channels_last)
        correct += int((model(chunk).argmax(dim=1) == chunk_labels.to(device)).sum())
    return correct / len(labels)


def run(recipe: Recipe, train_pixels: torch.Tensor, train_labels: torch.Tensor,
        test_pixels: torch.Tensor, test_labels: torch.Tensor, device: str = "cpu",
        seed: int = 0, max_seconds: float = math.inf, progress=None) -> Result:
    """Train ``recipe`` from scratch on uint8 pixels (N × 28 × 28) and time it.

    Only training is timed (from the first step to the last, including any compilation); the
    test set is scored after each epoch outside the clock. Stops early when the recipe says so
    or when ``max_seconds`` of training have passed.
    """
    if len(train_pixels) == 0 or len(train_pixels) != len(train_labels):
        raise ValueError("Pass training images and as many labels (at least one).")
    device = torch.device(device)
    previous_threads = torch.get_num_threads()
    if recipe.threads is not None:
        torch.set_num_threads(recipe.threads)
    try:
        return _run(recipe, train_pixels, train_labels, test_pixels, test_labels, device, seed,
                    max_seconds, progress)
    finally:
        torch.set_num_threads(previous_threads)


def _run(recipe, train_pixels, train_labels, test_pixels, test_labels, device, seed,
         max_seconds, progress):
    torch.manual_seed(seed)
    model = build(recipe.network).to(device)
    memory_format = torch.channels_last if recipe.channels_last else torch.contiguous_format
    model = model.to(memory_format=memory_format)
    test_images = normalise(test_pixels)
    if recipe.decode_per_image:
        data = DecodedImages(train_pixels, train_labels)
    else:
        data = torch.utils.data.TensorDataset(normalise(train_pixels).to(device),
                                              train_labels.to(device))
    generator = torch.Generator().manual_seed(seed)
    batches = torch.utils.data.DataLoader(data, batch_size=recipe.batch_size, shuffle=True,
                                          generator=generator)
    steps_per_epoch = len(batches)
    if recipe.optimizer == "adadelta":
        optimizer = torch.optim.Adadelta(model.parameters(), lr=recipe.learning_rate)
        per_epoch = torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
        per_step = None
    else:
        # Nesterov momentum and a little weight decay; one-cycle sets the learning rate.
        optimizer = torch.optim.SGD(model.parameters(), lr=recipe.learning_rate, momentum=0.9,
                                    nesterov=True, weight_decay=5e-4)
        per_step = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=recipe.learning_rate, epochs=recipe.epochs,
            steps_per_epoch=steps_per_epoch)
        per_epoch = None
    forward = torch.compile(model) if recipe.compile else model
    accuracies, seconds, trained, compile_seconds = [], [], 0.0, 0.0
    if recipe.compile:  # compile before the clock's first epoch, but count it as training time
        start = time.perf_counter()
        _warm_up(forward, optimizer, data, recipe, device, memory_format)
        compile_seconds = time.perf_counter() - start
        trained += compile_seconds
    reached = None
    for epoch in range(1, recipe.epochs + 1):
        start = time.perf_counter()
        if recipe.lean_loop:
            _lean_epoch(forward, data.tensors, optimizer, per_step, recipe, generator,
                        memory_format)
        else:
            _plain_epoch(forward, batches, optimizer, per_step, recipe, device, memory_format)
        if per_epoch is not None:
            per_epoch.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        trained += time.perf_counter() - start
        accuracies.append(_test_accuracy(model, test_images, test_labels, device,
                                         recipe.channels_last))
        seconds.append(trained)
        if progress is not None:
            progress(epoch, trained, accuracies[-1])
        if reached is None and accuracies[-1] >= TARGET:
            reached = trained
            if recipe.stop_at_target:
                break
        if trained > max_seconds:
            break
    if not recipe.stop_at_target and accuracies[-1] < TARGET:
        reached = None  # a fixed schedule counts only if its last epoch is on target
    elif not recipe.stop_at_target:
        reached = seconds[-1]
    return Result(reached, len(accuracies), accuracies, seconds, compile_seconds)


def _plain_epoch(model, batches, optimizer, per_step, recipe, device, memory_format):
    """The example's loop (via mlbook.mnist.train_one_epoch when nothing else differs)."""
    if not recipe.channels_last and not recipe.label_smoothing:
        train_one_epoch(model, batches, optimizer, device, per_step)
        return
    model.train()
    for images, labels in batches:
        images = images.to(device).contiguous(memory_format=memory_format)
        loss = F.cross_entropy(model(images), labels.to(device),
                               label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if per_step is not None:
            per_step.step()


def _lean_epoch(model, tensors, optimizer, per_step, recipe, generator, memory_format):
    """One epoch without a DataLoader and without reading the loss back each step."""
    images, labels = tensors
    model.train()
    order = torch.randperm(len(labels), generator=generator).to(labels.device)
    for start in range(0, len(labels), recipe.batch_size):
        batch = order[start:start + recipe.batch_size]
        loss = F.cross_entropy(model(images[batch].contiguous(memory_format=memory_format)),
                               labels[batch], label_smoothing=recipe.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if per_step is not None:
            per_step.step()


def _warm_up(model, optimizer, data, recipe, device, memory_format):
    """Compile the forward and backward passes on one batch, then restore the weights."""
    state = {k: v.clone() for k, v in model.state_dict().items()}
    images, labels = (data.tensors[0][:recipe.batch_size], data.tensors[1][:recipe.batch_size])
    model.train()
    loss = F.cross_entropy(model(images.contiguous(memory_format=memory_format)), labels)
    loss.backward()
    optimizer.zero_grad(set_to_none=True)
    model.load_state_dict(state)
    with torch.no_grad():
        model.eval()
        model(images[:2].contiguous(memory_format=memory_format))


def passive_waits() -> None:
    """Threads that spin while they wait make small models much slower on a shared machine;
    must be set before PyTorch starts its thread pool."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


TARGET_SECONDS = 20.0  # the chapter's goal: 99% within this much training on 2 CPU cores


def verdict(results: dict, seconds: float = TARGET_SECONDS) -> tuple[bool, str]:
    """Whether a speedrun results file meets the target, and a sentence for the page that says
    so, or names what held the fastest recipe back (from the file, never typed)."""
    if not isinstance(results, dict) or not {"final", "environment", "rungs"} <= results.keys():
        raise ValueError("Pass a speedrun results file as a dict (mlbook.open_problems."
                         "load_results('open_problems_speedrun.json')).")
    final, env = results["final"], results["environment"]
    target = results.get("target", TARGET)
    met = (all(r["reached"] for r in final["runs"])
           and final["median_test_accuracy"] >= target and final["median_seconds"] <= seconds)
    cores = (f"{env['torch_threads']} CPU threads" if env["device"] == "cpu"
             else f"one GPU ({env.get('gpu')})")
    if met:
        return True, (f"That meets the chapter's target of {target:.0%} within {seconds:.0f} s "
                      f"of training on {cores}.")
    limits = []
    epochs = final["recipe"]["epochs"]
    same = [r for r in results["rungs"]
            if r.get("recipe") == final["recipe"] and r.get("test_accuracy")]
    if same and epochs > 1:
        limits.append(f"one epoch reaches only {same[0]['test_accuracy'][0]:.2%}, so the "
                      f"recipe needs {epochs} passes over the data, about "
                      f"{final['median_seconds'] / epochs:.0f} s each here")
    load = env.get("load_average")
    if load is not None and load > env["cpu_count"]:
        limits.append(f"the machine's load average was {load:.1f} on {env['cpu_count']} cores "
                      "while it ran, so training shared the cores with other work")
    reason = "; ".join(limits) or "no rung on the ladder was fast enough"
    return False, (f"That misses the chapter's target of {target:.0%} within {seconds:.0f} s "
                   f"on {cores}. What limits it: {reason}.")
