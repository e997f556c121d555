#!/usr/bin/env python3
"""Check and time the MNIST chapter's browser widgets (mlbook.digits) in Chromium, no build needed.

1. Agreement: the browser's CNN (``cnnForward`` in mlbook/js/draw_digit.js, batch norm folded,
   float32 weights, float64 arithmetic) against PyTorch on the first ``--images`` test images
   (all 10,000 by default): the same class for every image, probabilities within 1e-4.
2. Redraw times: both widgets in a kernel-free page, each ``data-bench`` control driven
   ``--repeats`` times as scripts/bench_widgets.py drives them (type, click, draw a stroke);
   target ≤ 50 ms from the event to the painted frame after the redraw.
3. Page weight: the bytes each widget adds to the page's widget state.

The CNN is the tests' quick recipe (tests/test_digits.py: small_cnn, Adam, ``--epochs`` epochs)
on the training images that ``load_mnist`` finds: 5,000 on the offline mirror.

Usage: python scripts/bench_digits.py [--images 10000] [--repeats 15] [--epochs 1] [--out DIR]
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "_ext"))
from bench_widgets import DRIVE_JS, TARGET_MS  # noqa: E402

MAX_DIFFERENCE = 1e-4
CHUNK = 1000  # images per page evaluation


def agreement(page, url, widget, model, mean, std, images) -> dict:
    from conftest import call_js, load_module
    from test_digits import torch_probabilities

    page.goto(url + "/require-config.js")
    load_module(page, "draw_digit")
    start = time.perf_counter()
    browser = np.concatenate([np.array(call_js(
        page, "predictImages", widget.weights, widget.channels, mean, std,
        base64.b64encode(images[i:i + CHUNK].tobytes()).decode())) for i in range(
            0, len(images), CHUNK)])
    seconds = time.perf_counter() - start
    torch_p = torch_probabilities(model, images / 255, mean, std)
    same = browser.argmax(axis=1) == torch_p.argmax(axis=1)
    difference = float(np.abs(browser - torch_p).max())
    return {"images": len(images), "same_class": int(same.sum()),
            "max_probability_difference": difference,
            "pass": bool(same.all() and difference <= MAX_DIFFERENCE),
            "browser_ms_per_image": round(1000 * seconds / len(images), 3)}


def redraw_times(page, site, widgets, repeats: int) -> list[dict]:
    from conftest import show_widgets

    roots = show_widgets(page, site, *widgets)
    rows = []
    for index, widget in enumerate(widgets):
        root = roots.nth(index)
        controls = root.locator("[data-bench]")
        per_control, times = {}, []
        for c in range(controls.count()):
            control = controls.nth(c)
            action = control.get_attribute("data-bench")
            name = (control.get_attribute("aria-label") or control.inner_text() or action)[:40]
            samples = [control.evaluate(DRIVE_JS, [action, step]) for step in range(repeats)]
            per_control[name] = round(statistics.median(samples), 1)
            times += samples
        rows.append({"widget": type(widget).__name__, "controls": per_control,
                     "median_ms": round(statistics.median(times), 1),
                     "p90_ms": round(statistics.quantiles(times, n=10)[-1], 1),
                     "worst_ms": round(max(times), 1), "samples": len(times)})
    return rows


def state_bytes(widget) -> dict:
    from ipywidgets.embed import embed_data

    entry = embed_data(views=[widget], drop_defaults=False)["manager_state"]["state"][
        widget.model_id]
    values = entry["state"]
    sizes = {name: len(json.dumps(values[name])) for name in values}
    big = {name: size for name, size in sizes.items() if size > 1000}
    return {"total": len(json.dumps(entry)), "largest": big,
            "fallback_html": len(widget.fallback())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "bench")
    args = parser.parse_args()
    if not 1 <= args.images <= 10_000 or args.repeats < 1 or args.epochs < 1:
        sys.exit("bench_digits: --images must be 1 to 10000; --repeats and --epochs at least 1")

    import torch
    from conftest import CHROMIUM_ARGS, chromium_path, logged_page, serve_sandbox
    from playwright.sync_api import sync_playwright
    from test_digits import train_small_cnn

    from mlbook import load_mnist
    from mlbook.digits import DrawDigit, SoftmaxTrainer

    train, test = load_mnist(train=True), load_mnist(train=False)
    model, mean, std = train_small_cnn(epochs=args.epochs)
    trainer = SoftmaxTrainer(train.data[:1000], train.targets[:1000],
                             validation=(test.data[:200], test.targets[:200]))
    drawing = DrawDigit(model, mean=mean, std=std)
    with tempfile.TemporaryDirectory() as folder:
        httpd, url = serve_sandbox(Path(folder))
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium_path(),
                                                     args=CHROMIUM_ARGS)
                with logged_page(browser, url) as page:
                    agreed = agreement(page, url, drawing, model, mean, std,
                                       test.data[:args.images].numpy())
                with logged_page(browser, url) as page:
                    rows = redraw_times(page, (Path(folder), url), [trainer, drawing],
                                        args.repeats)
                    errors = page.mlbook_log.errors
                version = browser.version
                browser.close()
        finally:
            httpd.shutdown()
    weights = {"SoftmaxTrainer (1,000 + 200 images)": state_bytes(trainer),
               "DrawDigit": state_bytes(drawing)}
    result = {"date": dt.datetime.now().isoformat(timespec="seconds"),
              "machine": platform.node(), "cores": os.cpu_count(),
              "torch_threads": torch.get_num_threads(), "chromium": version,
              "data": f"{len(train.data):,} training images (load_mnist; 5,000 = the offline "
                      f"mirror), MNIST's test set", "cnn_epochs": args.epochs,
              "agreement": agreed, "redraws": rows, "state_bytes": weights,
              "page_errors": errors}
    lines = [f"# MNIST widgets ({result['date']}, {result['machine']}, {result['cores']} cores, "
             f"Chromium {version} headless)", "",
             f"CNN: small_cnn, {args.epochs} epoch(s) on {result['data']}.", "",
             f"Browser CNN vs PyTorch on {agreed['images']:,} test images: same class for "
             f"{agreed['same_class']:,}, largest probability difference "
             f"{agreed['max_probability_difference']:.1e} "
             f"({'PASS' if agreed['pass'] else 'FAIL'}, target: all, ≤ {MAX_DIFFERENCE:g}); "
             f"{agreed['browser_ms_per_image']} ms per image in the browser.", "",
             "| widget | median ms | 90th percentile ms | worst ms | per control (median ms) "
             "| target |", "| --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        verdict = "PASS" if row["worst_ms"] <= TARGET_MS else "FAIL"
        lines.append(f"| {row['widget']} | {row['median_ms']} | {row['p90_ms']} | "
                     f"{row['worst_ms']} | {row['controls']} | {verdict} (≤ {TARGET_MS:g} ms) |")
    lines += ["", f"Load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} "
              "cores (other work on the machine makes these times pessimistic)."]
    lines += ["", "Widget state added to the page (JSON bytes):"]
    lines += [f"- {name}: {w['total']:,} (largest parts {w['largest']}), and its fallback "
              f"{w['fallback_html']:,} bytes of HTML" for name, w in weights.items()]
    text = "\n".join(lines)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "digits.md").write_text(text + "\n")
    (args.out / "digits.json").write_text(json.dumps(result, indent=1) + "\n")
    print(text)
    slow = [row for row in rows if row["worst_ms"] > TARGET_MS]
    return 0 if agreed["pass"] and not slow and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
