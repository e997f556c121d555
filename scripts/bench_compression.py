#!/usr/bin/env python3
"""Size and speed of the MNIST CNN at full size, for the chapter "Open problems": the float model,
int8 (torchao PT2E, eager and compiled), unstructured and structured pruning with fine-tuning,
a distilled student and the same student without its teacher, and the ONNX export run by
onnxruntime. Writes mlbook/data/open_problems_compression.json.

    python scripts/bench_compression.py --data-root ../shared/data/mnist-near-full --threads 2

About 5 minutes on 2 CPU cores. Latency is per image (batch 1), throughput in batches of 256.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mlbook import data_root, load_mnist  # noqa: E402
from mlbook import open_problems as op  # noqa: E402
from mlbook.mnist import as_arrays, as_images, fit, loader, small_cnn  # noqa: E402

CPU = torch.device("cpu")


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def teacher_cnn(images, labels, validation):
    recipe = op.COMPRESSION["teacher"]
    torch.manual_seed(0)
    model = small_cnn(tuple(recipe["channels"]))
    batches = loader(images, labels, recipe["batch_size"], shuffle=True)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe["max_lr"],
                                                   epochs=recipe["epochs"],
                                                   steps_per_epoch=len(batches))
    fit(model, batches, validation, optimizer, recipe["epochs"], CPU, schedule, name="CNN")
    return model.eval()


def compiled(model, images):
    """``model`` compiled by inductor, warmed up on both batch sizes the benchmark uses."""
    fast = torch.compile(model)
    with torch.no_grad():
        fast(images[:1])
        fast(images[:256])
    return fast


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--output", type=Path,
                        default=op.RESULTS_DIR / "open_problems_compression.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    op.quiet_torchao()
    root = args.data_root or data_root()
    X, y = as_arrays(load_mnist(train=True, root=root))
    X_test, y_test = as_arrays(load_mnist(train=False, root=root))
    mean, std = float(X.mean()), float(X.std())
    images, test_images = as_images(X, mean, std), as_images(X_test, mean, std)
    recipe = op.COMPRESSION
    rows = []

    def row(name, model, reference=None):
        measured = op.measure(name, model, test_images, y_test, args.repeats, reference)
        rows.append(measured.as_dict())
        log(f"{name}: {measured}")

    cnn = teacher_cnn(images, y, (test_images[:1000], y_test[:1000]))
    row("float32", cnn)
    row("float32, compiled", compiled(cnn, test_images), reference=cnn)
    int8 = op.quantize_int8(cnn, images[:recipe["calibration_images"]])
    row("int8 (PT2E), eager", int8, reference=cnn)
    row("int8 (PT2E), compiled", compiled(int8, test_images), reference=cnn)

    sparse = op.prune_weights(cnn, recipe["unstructured_fraction"])
    row("pruned 80% of weights", sparse)
    op.keep_zeros(sparse)
    op.fine_tune(sparse, images, y, recipe["fine_tune_epochs"])
    row("pruned 80% of weights, fine-tuned", sparse)

    thin = op.prune_channels(cnn, recipe["channel_fraction"])
    row("half the channels", thin)
    op.fine_tune(thin, images, y, recipe["fine_tune_epochs"])
    row("half the channels, fine-tuned", thin)

    student = recipe["student"]
    for name, teacher in (("student, distilled", cnn), ("student, labels only", None)):
        torch.manual_seed(0)
        model = op.distil(small_cnn(tuple(student["channels"])), teacher, images, y,
                          student["epochs"], student["temperature"], student["alpha"])
        row(name, model)

    with tempfile.TemporaryDirectory() as folder:
        path = op.export_onnx(cnn, Path(folder) / "cnn.onnx")
        session = op.onnx_session(path, threads=args.threads)
        same, largest = op.onnx_parity(cnn, session, test_images)
        onnx = {"same_class": same, "max_abs_score_difference": largest,
                "bytes": path.stat().st_size,
                "latency_ms": op.latency_ms(lambda x: op.onnx_scores(session, x), test_images,
                                            1, args.repeats),
                "images_per_second": 256 / op.latency_ms(
                    lambda x: op.onnx_scores(session, x), test_images, 256,
                    max(3, args.repeats // 10)) * 1000}
    log(f"ONNX: {onnx}")
    report = {"benchmark": "size and speed of the MNIST CNN",
              "environment": op.environment(args.threads, "cpu", root, len(y)),
              "recipe": recipe, "rows": rows, "onnx": onnx,
              "latency": "median of repeated calls, batch 1; throughput in batches of 256"}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
