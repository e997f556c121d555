#!/usr/bin/env python3
"""Measure the book's widgets in Chromium: redraw time per interaction, and page weights.

For every page of the built site, every book widget (``.mlbook-widget``) is driven through each of
its controls that carries a ``data-bench`` attribute, the way a reader would:

* ``data-bench="value:A|B"``: type or slide the value A, then B, ... (``input`` and ``change``
  events), cycling through the list;
* ``data-bench="click"``: click it;
* ``data-bench="drag"``: press the pointer on it, move it by (12, -8) px, release;
* ``data-bench="stroke"``: draw a short stroke across it with the pointer.

A redraw is timed from the first event to the end of the widget's next redraw (its
``data-renders`` count goes up) and the frame after it is painted. Each control is driven
``--repeats`` times; the report gives each widget's median, 90th percentile and worst time over all
its controls, and the JSON file every sample.
Target: every interaction redraws within 50 ms; the heaviest page is at most 1 MB (HTML, images
and widget state; the shared, vendored JavaScript is not counted).

Usage: python scripts/bench_widgets.py [--site _build/html] [--repeats 15] [--out DIR]
       [--page chapters/NAME ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import http.server
import json
import os
import platform
import statistics
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))
from bench_build import TARGET_PAGE_BYTES, fmt_bytes, page_weights, toc_documents  # noqa: E402

TARGET_MS = 50.0

DRIVE_JS = """async (control, [action, step]) => {
  const root = control.closest('.mlbook-widget');
  const before = Number(root.dataset.renders || 0);
  const done = new Promise(resolve => {
    const check = () => Number(root.dataset.renders || 0) > before;
    if (check()) return resolve();
    const watch = new MutationObserver(() => { if (check()) { watch.disconnect(); resolve(); } });
    watch.observe(root, {attributes: true, attributeFilter: ['data-renders']});
  });
  const box = control.getBoundingClientRect();
  const at = (dx, dy) => ({clientX: box.left + box.width / 2 + dx,
                           clientY: box.top + box.height / 2 + dy, bubbles: true,
                           pointerId: 1, pointerType: 'mouse', isPrimary: true, buttons: 1});
  const start = performance.now();
  if (action.startsWith('value:')) {
    const values = action.slice(6).split('|');
    control.value = values[step % values.length];
    control.dispatchEvent(new Event('input', {bubbles: true}));
    control.dispatchEvent(new Event('change', {bubbles: true}));
  } else if (action === 'click') {
    if (control.type === 'radio') control.checked = false;  // a reader picks it anew
    control.click();
  } else if (action === 'drag') {
    const sign = step % 2 ? -1 : 1;
    control.dispatchEvent(new PointerEvent('pointerdown', at(0, 0)));
    control.dispatchEvent(new PointerEvent('pointermove', at(12 * sign, -8 * sign)));
    control.dispatchEvent(new PointerEvent('pointerup', at(12 * sign, -8 * sign)));
  } else if (action === 'stroke') {
    control.dispatchEvent(new PointerEvent('pointerdown', at(-30, -20)));
    for (let i = 1; i <= 10; i++) {
      control.dispatchEvent(new PointerEvent('pointermove', at(-30 + 6 * i, -20 + 4 * i)));
    }
    control.dispatchEvent(new PointerEvent('pointerup', at(30, 20)));
  } else {
    throw new Error('unknown data-bench action ' + action);
  }
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no redraw')),
                                                       5000));
  await Promise.race([done, timeout]);
  await new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 0)));
  return performance.now() - start;
}"""


SETTLE_JS = """() => new Promise(resolve => requestAnimationFrame(() => requestAnimationFrame(
  () => setTimeout(resolve, 250))))"""


def serve(site: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    from conftest import _QuietHandler

    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def measure(site: Path, repeats: int, pages: list[str]) -> list[dict]:
    from conftest import CHROMIUM_ARGS, chromium_path, open_page
    from playwright.sync_api import sync_playwright

    httpd, url = serve(site)
    rows = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(),
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(90_000)
            for doc in pages:
                open_page(page, url, doc)
                widgets = page.locator(".mlbook-widget")
                for index in range(widgets.count()):
                    root = widgets.nth(index)
                    root.scroll_into_view_if_needed()
                    # A reader's first click comes after the scroll has been painted, not in the
                    # same frame: let the newly shown part of the page finish drawing first.
                    page.evaluate(SETTLE_JS)
                    kind = root.get_attribute("class").replace("mlbook-widget", "").strip()
                    controls = root.locator("[data-bench]")
                    times, per_control = [], {}
                    for c in range(controls.count()):
                        control = controls.nth(c)
                        action = control.get_attribute("data-bench")
                        name = (control.get_attribute("aria-label") or control.get_attribute(
                            "title") or control.inner_text() or action)[:40]
                        samples = [control.evaluate(DRIVE_JS, [action, step])
                                   for step in range(repeats)]
                        per_control[name] = [round(t, 1) for t in samples]
                        times += samples
                    if times:
                        rows.append({"page": doc, "widget": kind, "controls": per_control,
                                     "median_ms": round(statistics.median(times), 1),
                                     "p90_ms": round(statistics.quantiles(times, n=10)[-1], 1),
                                     "worst_ms": round(max(times), 1), "samples": len(times)})
            browser.close()
    finally:
        httpd.shutdown()
    return rows


def report(rows: list[dict], weights: dict, repeats: int) -> str:
    lines = [f"# Widget benchmark ({dt.date.today()}, {platform.node()}, "
             f"{os.cpu_count()} cores, Chromium headless, {repeats} repeats per control)", "",
             "| page | widget | samples | median ms | p90 ms | worst ms | target |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in rows:
        verdict = "PASS" if row["worst_ms"] <= TARGET_MS else "FAIL"
        lines.append(f"| {row['page']} | {row['widget']} | {row['samples']} | "
                     f"{row['median_ms']} | {row['p90_ms']} | {row['worst_ms']} | "
                     f"{verdict} (worst ≤ {TARGET_MS:g} ms) |")
    heaviest = weights["largest_page"]
    size = weights["pages"][heaviest]["total_bytes"]
    verdict = "PASS" if size <= TARGET_PAGE_BYTES else "FAIL"
    lines += ["", f"Heaviest page: {heaviest}, {fmt_bytes(size)} "
              f"({verdict}, target ≤ {fmt_bytes(TARGET_PAGE_BYTES)})."]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=ROOT / "_build" / "html")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--out", type=Path, default=ROOT / "_build" / "bench")
    parser.add_argument("--page", action="append", help="only this page (e.g. chapters/mnist); "
                        "may be repeated; default: every page of the table of contents")
    args = parser.parse_args()
    if not (args.site / "index.html").is_file():
        sys.exit(f"bench_widgets: no built site at {args.site}; run `bash scripts/build.sh`")
    if args.repeats < 2:
        sys.exit("bench_widgets: --repeats must be at least 2 (the report gives percentiles)")
    pages = toc_documents(ROOT)
    unknown = sorted(set(args.page or []) - set(pages))
    if unknown:
        sys.exit(f"bench_widgets: {', '.join(unknown)} not in the table of contents; "
                 f"choose from {', '.join(pages)}")
    rows = measure(args.site, args.repeats, args.page or pages)
    weights = page_weights(args.site)
    text = report(rows, weights, args.repeats)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "widgets.md").write_text(text + "\n")
    (args.out / "widgets.json").write_text(json.dumps(
        {"rows": rows, "pages": weights["pages"]}, indent=1) + "\n")
    print(text)
    slow = [row for row in rows if row["worst_ms"] > TARGET_MS]
    return 1 if slow or weights["over_limit"] else 0


if __name__ == "__main__":
    sys.exit(main())
