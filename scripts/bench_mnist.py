"""Train every model of the MNIST chapter on the full training set and write the results file.

The chapter trains briefly on whatever data its machine has (the book's offline build: the
5,000-image mirror). This script runs the chapter's own code (its functions and ``*_recipe``
dictionaries, read from chapters/mnist.ipynb) on all the training images at --data-root, with the
chapter's split (10% for validation, seed 0) and seeds, and writes
mlbook/data/mnist_full_results.json: for each model, the recipe, the epoch kept (the best
validation loss), validation and test accuracy, the test accuracy's binomial standard error, the
number of test errors and the training time; and the date, machine, CPU threads, device, torch
version and data provenance. The chapter shows that file as its full-data table, and checks that
its recipes and training code still match those recorded here.

    python scripts/bench_mnist.py --data-root ../shared/data/mnist-near-full
    python scripts/bench_mnist.py --data-root ../shared/data/mnist-near-full --device cuda
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

# Threads that spin while waiting for each other make training many times slower on a machine
# shared with other jobs; passive waiting costs little when the machine is idle. Set before torch.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlbook import data_root, load_mnist, mnist  # noqa: E402
from mlbook.open_problems import cpu_name  # noqa: E402

NOTEBOOK = ROOT / "chapters" / "mnist.ipynb"


def provenance(root: Path, n_train: int) -> str:
    readme = root / "README.md"
    text = readme.read_text() if readme.is_file() else ""
    if "near-exact" in text:
        return ("a near-exact copy of MNIST's training images, at most 1 grey level in 255 off "
                "(see its README); exact labels and the exact official test set")
    if n_train == 60_000:
        return "MNIST as downloaded by torchvision"
    return f"{n_train:,} training images as found at the data root"


def row(key, model, recipe, parameters, epochs, epoch_used, validation_accuracy, correct, n_test,
        seconds, history=None, changes=None) -> dict:
    accuracy = correct / n_test
    entry = {"key": key, "model": model, "recipe": recipe, "changes": changes or {},
             "parameters": parameters,
             "epochs": epochs, "epoch_used": epoch_used,
             "validation_accuracy": round(float(validation_accuracy), 6),
             "test_accuracy": round(accuracy, 6),
             "test_standard_error": round(mnist.standard_error(accuracy, n_test), 6),
             "test_errors": int(n_test - correct), "train_seconds": round(seconds, 1)}
    if history is not None:
        entry["history"] = [{"epoch": r.epoch, "train_loss": round(r.train_loss, 5),
                             "validation_loss": round(r.validation_loss, 5)
                             if math.isfinite(r.validation_loss) else None,
                             "validation_accuracy": round(r.validation_accuracy, 5)}
                            for r in history]
    print(f"  {model}: test accuracy {accuracy:.4f}, {seconds:.0f} s", file=sys.stderr)
    return entry


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder holding MNIST/raw (default: the book's data root)")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="where PyTorch trains (the NumPy models always run on the CPU)")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch CPU threads")
    parser.add_argument("--notes", default="", help="a remark stored in the file's notes")
    parser.add_argument("--output", type=Path, default=mnist.RESULTS_FILE)
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda, but PyTorch sees no CUDA GPU")

    root = args.data_root or data_root()
    mnist.make_reproducible(seed=0, threads=args.threads)
    device = torch.device(args.device)
    load_average = os.getloadavg()[0] if hasattr(os, "getloadavg") else None

    # The chapter's own code and recipes.
    code = mnist.chapter_definitions(NOTEBOOK)
    recipes = mnist.chapter_recipes(NOTEBOOK)
    softmax_recipe = recipes["softmax_recipe"]

    # The chapter's data preparation, on the full training set.
    X_all, y_all = mnist.as_arrays(load_mnist(train=True, root=root))
    X_test, y_test = mnist.as_arrays(load_mnist(train=False, root=root))
    train_index, validation_index = mnist.split_indices(len(y_all), validation_fraction=0.1,
                                                        seed=0)
    X_train, y_train = X_all[train_index], y_all[train_index]
    X_val, y_val = X_all[validation_index], y_all[validation_index]
    n_test = len(y_test)
    models = []

    print("nearest class mean ...", file=sys.stderr)
    start = time.perf_counter()
    class_means = np.stack([X_train[y_train == digit].mean(axis=0) for digit in range(10)])
    W_means, b_means = 2 * class_means.T, -(class_means**2).sum(axis=1)
    seconds = time.perf_counter() - start
    accuracy = code["accuracy"]
    models.append(row("nearest_class_mean", "nearest class mean", None, W_means.size + 10, 0,
                      None, accuracy(W_means, b_means, X_val, y_val),
                      round(accuracy(W_means, b_means, X_test, y_test) * n_test), n_test,
                      seconds))

    print("softmax regression, NumPy ...", file=sys.stderr)
    start = time.perf_counter()
    W, b, _ = code["sgd"](X_train, y_train, **softmax_recipe)
    seconds = time.perf_counter() - start
    models.append(row("softmax_numpy", "softmax regression, NumPy", "softmax_recipe", W.size + 10,
                      softmax_recipe["epochs"], softmax_recipe["epochs"],
                      accuracy(W, b, X_val, y_val),
                      round(accuracy(W, b, X_test, y_test) * n_test), n_test, seconds))

    # The chapter's functions find its variables in their namespace.
    mean, std = float(X_train.mean()), float(X_train.std())
    code.update(device=device, loader=mnist.loader, fit=mnist.fit, y_train=y_train, y_val=y_val,
                train_images=mnist.as_images(X_train, mean, std),
                val_images=mnist.as_images(X_val, mean, std))
    test_batches = mnist.loader(mnist.as_images(X_test, mean, std), y_test, batch_size=1000)

    print("softmax regression, PyTorch ...", file=sys.stderr)
    start = time.perf_counter()
    softmax_model = code["train_softmax"](X_train, y_train, **softmax_recipe)
    seconds = time.perf_counter() - start
    pixels = mnist.loader(torch.from_numpy(X_val), y_val, batch_size=1000)
    test_pixels = mnist.loader(torch.from_numpy(X_test), y_test, batch_size=1000)
    models.append(row("softmax_pytorch", "softmax regression, PyTorch", "softmax_recipe",
                      mnist.count_parameters(softmax_model), softmax_recipe["epochs"],
                      softmax_recipe["epochs"], code["evaluate"](softmax_model, pixels)[1],
                      round(code["evaluate"](softmax_model, test_pixels)[1] * n_test), n_test,
                      seconds))

    faster = {"max_lr": 0.1}  # Exercise 5's larger peak learning rate
    networks = [
        ("mlp_adam", "MLP, Adam", code["make_mlp"], "adam_recipe", {}),
        ("mlp_one_cycle", "MLP, one-cycle", code["make_mlp"], "one_cycle_recipe", {}),
        ("cnn", "CNN, one-cycle", mnist.small_cnn, "one_cycle_recipe", {}),
        # Exercise 5: what batch normalisation buys.
        ("cnn_no_batch_norm", "CNN without batch norm",
         lambda: mnist.small_cnn(batch_norm=False), "one_cycle_recipe", {}),
        ("cnn_max_lr_0.1", "CNN", mnist.small_cnn, "one_cycle_recipe", faster),
        ("cnn_no_batch_norm_max_lr_0.1", "CNN without batch norm",
         lambda: mnist.small_cnn(batch_norm=False), "one_cycle_recipe", faster),
    ]
    for key, name, make, recipe_name, changes in networks:
        print(f"{key} ...", file=sys.stderr)
        recipe = {**recipes[recipe_name], **changes}
        torch.manual_seed(0)  # as the chapter does before each network
        network = make().to(device)
        start = time.perf_counter()
        history = code["train"](network, name, **recipe)
        seconds = time.perf_counter() - start
        best = mnist.best_epoch(history)
        correct = round(code["evaluate"](network, test_batches)[1] * n_test)
        models.append(row(key, name, recipe_name, mnist.count_parameters(network),
                          recipe["epochs"], best.epoch, best.validation_accuracy, correct, n_test,
                          seconds, history, changes))

    notes = ("Accuracies are what the chapter quotes. Timings: "
             + (f"load average {load_average:.1f} at the start on {os.cpu_count()} CPUs"
                if load_average is not None else "no load average available")
             + "; on a machine shared with other jobs they are pessimistic.")
    results = {
        "schema": mnist.RESULTS_SCHEMA,
        "written_by": "scripts/bench_mnist.py",
        "date": datetime.date.today().isoformat(),
        "machine": (f"{cpu_name() or platform.processor()}, "
                    f"{platform.system()} {platform.machine()}"),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": (torch.cuda.get_device_name() if args.device == "cuda" else "CPU"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "load_average": load_average,
        "notes": (notes + " " + args.notes).strip(),
        "data": {"root": str(root), "provenance": provenance(root, len(y_all)),
                 "training_images": len(y_all), "validation_images": len(y_val),
                 "test_images": n_test},
        "recipes": recipes,
        "code": list(mnist.RESULTS_CODE),
        "code_fingerprint": mnist.notebook_fingerprint(NOTEBOOK),
        "models": models,
    }
    args.output.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
