"""Benchmark the MNIST chapter's models against PyTorch's own MNIST example, on one machine.

Measures, on the data at --data-root (default: the book's data root):
  1. the chapter's NumPy softmax regression (its own notebook code): test accuracy and time;
  2. the chapter's small CNN (mlbook.mnist.small_cnn, Adam + one-cycle, batch 128): test accuracy
     after each epoch and the training time until it first reaches 99%;
  3. the recipe of PyTorch's MNIST example (github.com/pytorch/examples, mnist/main.py: 2 conv +
     2 fc layers, dropout, Adadelta lr 1.0, StepLR gamma 0.7, batch 64): the same measurements.
Prints a Markdown report followed by the same numbers as JSON.

    python scripts/bench_mnist.py --data-root ../shared/data/mnist-near-full
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

# Threads that spin while waiting for each other make training many times slower on a machine
# shared with other jobs; passive waiting costs little when the machine is idle. Set before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlbook import data_root, load_mnist, mnist  # noqa: E402


class PyTorchExampleNet(nn.Module):
    """The network of PyTorch's MNIST example, layer for layer."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return self.fc2(x)  # logits; the example's log_softmax + nll_loss equals cross_entropy


def train_until(model, batches, test, optimizer, epochs, device, scheduler_per_step=None,
                scheduler_per_epoch=None, name="model", target=0.99):
    """Train epoch by epoch; after each, measure test accuracy. Training time excludes testing."""
    rows, trained = [], 0.0
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        with mnist.progress_bar(len(batches.dataset), f"{name} epoch {epoch}") as bar:
            mnist.train_one_epoch(model, batches, optimizer, device, scheduler_per_step, bar)
        if scheduler_per_epoch is not None:
            scheduler_per_epoch.step()
        trained += time.perf_counter() - start
        accuracy = mnist.evaluate(model, *test, device)[1]
        rows.append({"epoch": epoch, "train_seconds": round(trained, 1),
                     "test_accuracy": round(accuracy, 4)})
        print(f"  {name}: epoch {epoch}, {trained:.1f} s of training, test accuracy "
              f"{accuracy:.4f}", file=sys.stderr)
    reached = next((r for r in rows if r["test_accuracy"] >= target), None)
    return {"epochs": rows, "seconds_to_99": reached and reached["train_seconds"],
            "epochs_to_99": reached and reached["epoch"],
            "parameters": mnist.count_parameters(model)}


def numpy_softmax_regression(X_train, y_train, X_test, y_test, epochs):
    code = mnist.chapter_definitions(ROOT / "chapters" / "mnist.ipynb")
    start = time.perf_counter()
    W, b, _ = code["sgd"](X_train, y_train, eta=0.5, batch_size=64, epochs=epochs)
    seconds = time.perf_counter() - start
    return {"epochs": epochs, "train_seconds": round(seconds, 1),
            "test_accuracy": round(float(code["accuracy"](W, b, X_test, y_test)), 4)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder holding MNIST/raw (default: the book's data root)")
    parser.add_argument("--cnn-epochs", type=int, default=3)
    parser.add_argument("--example-epochs", type=int, default=5)
    parser.add_argument("--numpy-epochs", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)

    root = args.data_root or data_root()
    mnist.make_reproducible(seed=0, threads=args.threads)
    device = mnist.pick_device()
    X_train, y_train = mnist.as_arrays(load_mnist(train=True, root=root))
    X_test, y_test = mnist.as_arrays(load_mnist(train=False, root=root))
    readme = root / "README.md"
    near_exact = readme.is_file() and "near-exact" in readme.read_text()
    provenance = "near-exact copy" if near_exact else "as found at the data root"

    report = {
        "data_root": str(root), "training_images": len(y_train), "test_images": len(y_test),
        "training_images_provenance": provenance, "device": str(device),
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "machine": f"{platform.machine()} {platform.processor()}".strip(),
        "torch": torch.__version__,
    }
    print("NumPy softmax regression ...", file=sys.stderr)
    report["numpy_softmax_regression"] = numpy_softmax_regression(
        X_train, y_train, X_test, y_test, args.numpy_epochs)

    mean, std = float(X_train.mean()), float(X_train.std())
    train_images, test_images = mnist.as_images(X_train, mean, std), mnist.as_images(
        X_test, mean, std)
    test = (test_images, y_test)

    print("The chapter's CNN ...", file=sys.stderr)
    torch.manual_seed(0)
    cnn = mnist.small_cnn().to(device)
    batches = mnist.loader(train_images, y_train, batch_size=128, shuffle=True, seed=0)
    optimizer = torch.optim.Adam(cnn.parameters(), lr=1e-3)
    one_cycle = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-2,
                                                    epochs=args.cnn_epochs,
                                                    steps_per_epoch=len(batches))
    report["chapter_cnn"] = train_until(cnn, batches, test, optimizer, args.cnn_epochs, device,
                                        scheduler_per_step=one_cycle, name="chapter CNN")

    print("PyTorch's MNIST example ...", file=sys.stderr)
    torch.manual_seed(0)
    example = PyTorchExampleNet().to(device)
    # The example normalises with MNIST's published mean and std, 0.1307 and 0.3081.
    example_batches = mnist.loader(mnist.as_images(X_train, 0.1307, 0.3081), y_train,
                                   batch_size=64, shuffle=True, seed=0)
    example_test = (mnist.as_images(X_test, 0.1307, 0.3081), y_test)
    adadelta = torch.optim.Adadelta(example.parameters(), lr=1.0)
    step_lr = torch.optim.lr_scheduler.StepLR(adadelta, step_size=1, gamma=0.7)
    report["pytorch_example"] = train_until(example, example_batches, example_test, adadelta,
                                            args.example_epochs, device,
                                            scheduler_per_epoch=step_lr, name="PyTorch example")
    print(markdown(report))
    print("\n```json\n" + json.dumps(report, indent=2) + "\n```")


def markdown(report) -> str:
    numpy_row = report["numpy_softmax_regression"]
    lines = [
        "# MNIST benchmark",
        "",
        f"- data root: `{report['data_root']}`",
        f"- training images: {report['training_images_provenance']} "
        f"({report['training_images']:,} images); test images: {report['test_images']:,}",
        f"- device: {report['device']}, {report['torch_threads']} torch threads, "
        f"{report['cpu_count']} CPUs, load average at start {report['load_average']}",
        "",
        f"NumPy softmax regression ({numpy_row['epochs']} epochs of SGD, η = 0.5, batch 64): "
        f"test accuracy **{numpy_row['test_accuracy']:.2%}** in {numpy_row['train_seconds']} s.",
        "",
        "| model | parameters | epoch | training time (s) | test accuracy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for key, name in (("chapter_cnn", "chapter CNN (Adam, one-cycle, batch 128)"),
                      ("pytorch_example", "PyTorch example (Adadelta, StepLR 0.7, batch 64)")):
        for row in report[key]["epochs"]:
            lines.append(f"| {name} | {report[key]['parameters']:,} | {row['epoch']} | "
                         f"{row['train_seconds']} | {row['test_accuracy']:.2%} |")
    lines.append("")
    for key, name in (("chapter_cnn", "chapter CNN"), ("pytorch_example", "PyTorch example")):
        seconds = report[key]["seconds_to_99"]
        lines.append(f"- time to 99% test accuracy, {name}: "
                     + (f"**{seconds} s** (epoch {report[key]['epochs_to_99']})" if seconds
                        else "not reached in the epochs run"))
    return "\n".join(lines)


if __name__ == "__main__":
    main()
