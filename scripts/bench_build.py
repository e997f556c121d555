#!/usr/bin/env python3
"""Benchmark the book's build on a temporary copy of the repository; write a Markdown/JSON report.

Measures, on a copy so that the working tree and its ``_build/`` are never touched:

* (a) a clean build with execution and the PDF, (b) a no-op rebuild, (c) a rebuild after editing
  one prose (markdown) cell, which must execute no notebook, (d) a rebuild after editing one code
  cell, which must execute that notebook only; (c) and (d) skip the PDF (``MLBOOK_PDF=0``), as an
  author does while writing. Executions are counted from jupyter-cache's records (a new or
  re-created record is an execution) and cross-checked against the build log;
* (e) each chapter's execution time (jupyter-cache's ``execution_seconds``);
* (f) the peak memory of each build (the summed RSS of the build's process tree, kernels included,
  sampled with psutil; shared pages are counted once per process, so this is an upper bound);
* (g) the weight of every page (HTML plus the local images it references; data-URI images are part
  of the HTML), the site total and the largest page;
* (h) the MNIST chapter's time-to-accuracy figures, if ``scripts/bench_mnist.py`` wrote its JSON.

Targets (flagged PASS/FAIL): clean build <= 150 s on 2 cores, prose-edit rebuild <= 20 s, no page
over 1 MB.

Usage::

    python scripts/bench_build.py                   # everything; report in $MLBOOK_OUT/_build/bench
    python scripts/bench_build.py --keep            # keep the copy to run later parts alone
    python scripts/bench_build.py --workdir DIR --skip-clean   # rebuild timings on a kept copy
    python scripts/bench_build.py --pages-only _build/html      # page weights of a built site
    python scripts/bench_build.py --toc my_toc.yml  # build only the documents in another TOC

The copy holds the tracked and untracked-but-not-ignored files of the working tree (``--from-head``:
a ``git clone`` of HEAD instead); its build vendors the JavaScript from the npm tarball cache. It
reuses the repository's virtual environment (``MLBOOK_VENV``), so nothing is installed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
TARGET_CLEAN_S = 150.0
TARGET_PROSE_S = 20.0
# The edit rebuilds are an author's loop: they skip the PDF, as AUTHORING.md says to while writing.
WRITING = {"MLBOOK_PDF": "0"}
TARGET_PAGE_BYTES = 1_000_000  # HTML + images + widget state; vendored JS not counted
PROSE_MARK = "Benchmark edit: this sentence was added by scripts/bench_build.py."
CODE_MARK = "# benchmark edit (scripts/bench_build.py)"
# scripts/bench_mnist.py prints a Markdown report ending in a ```json block; save either.
MNIST_RESULTS = ["_build/bench/mnist.json", "_build/bench/mnist.md", "_build/bench_mnist.json",
                 "bench_mnist.json"]
LOG_LINE = re.compile(r"^(?P<path>\S+\.(?:ipynb|md)): (?P<what>Executing notebook|"
                      r"Executed notebook in (?P<seconds>[\d.]+) seconds|Using cached notebook)")


# --- the copy ---------------------------------------------------------------------------------

def make_copy(dest: Path, from_head: bool) -> None:
    if from_head:
        subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)],
                       check=True)
    else:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
        dest.mkdir(parents=True)
        for name in filter(None, listed):
            source = ROOT / name
            if not source.is_file():  # deleted in the working tree but still in the index
                continue
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def build_env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    venv = Path(os.environ.get("MLBOOK_VENV") or ROOT / ".venv").resolve()
    env["MLBOOK_VENV"] = str(venv)
    # env.sh prefixes $PWD to the venv path; put the real one first so it wins either way.
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    # The venv may hold mlbook as an editable install of the original checkout: make the kernels
    # import the copy's mlbook instead.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(copy), env.get("PYTHONPATH")]))
    env.pop("MLBOOK_OUT", None)  # the copy builds into its own _build/
    if not env.get("MLBOOK_DATA"):
        mirror = ROOT.parent / "shared" / "data" / "mnist-offline"
        if (mirror / "MNIST").is_dir():
            env["MLBOOK_DATA"] = str(mirror.resolve())
    return env


# --- running one build, with its peak memory ---------------------------------------------------

def _tree_rss(process) -> int:
    import psutil

    total = 0
    try:
        members = [process] + process.children(recursive=True)
    except psutil.Error:
        return 0
    for member in members:
        try:
            total += member.memory_info().rss
        except psutil.Error:
            pass
    return total


def run_build(copy: Path, env: dict[str, str], extra: list[str] | None = None) -> dict:
    import psutil

    command = ["bash", "scripts/build.sh", *(extra or [])]
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=copy, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        watched = psutil.Process(proc.pid)
        while not done.is_set():
            peak = max(peak, _tree_rss(watched))
            done.wait(0.25)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output = proc.stdout.read().decode(errors="replace")
    proc.wait()
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    return {"seconds": round(seconds, 2), "returncode": proc.returncode,
            "peak_rss_mb": round(peak / 2**20, 1), "log": output}


def log_executions(log: str) -> dict[str, list]:
    """Notebooks the build log says were executed, and those it took from the cache."""
    executed, cached, times = [], [], {}
    for line in log.splitlines():
        match = LOG_LINE.match(re.sub(r"\x1b\[[0-9;]*m", "", line))
        if not match:
            continue
        name = Path(match["path"]).stem
        if match["what"].startswith("Using cached"):
            cached.append(name)
            continue
        # myst-nb logs "Executing" and then "Executed"; the book's extension, which runs
        # notebooks side by side before Sphinx reads them, logs only "Executed".
        if name not in executed:
            executed.append(name)
        if match["seconds"]:
            times[name] = float(match["seconds"])
    return {"executed": executed, "cached": cached, "seconds": times}


# --- jupyter-cache's records ---------------------------------------------------------------------

def cache_records(copy: Path) -> dict[int, dict]:
    """Every cached execution: ``{pk: {uri, created, hashkey, seconds}}``."""
    path = copy / "_build" / ".jupyter_cache"
    if not path.is_dir():
        return {}
    from jupyter_cache import get_cache

    return {r.pk: {"uri": r.uri, "created": r.created.isoformat(), "hashkey": r.hashkey,
                   "seconds": (r.data or {}).get("execution_seconds")}
            for r in get_cache(str(path)).list_cache_records()}


def new_executions(before: dict[int, dict], after: dict[int, dict]) -> list[str]:
    """Notebooks whose cache record is new or was re-created between two snapshots."""
    return sorted(Path(rec["uri"]).stem for pk, rec in after.items()
                  if pk not in before or before[pk]["created"] != rec["created"])


def toc_documents(copy: Path) -> list[str]:
    import yaml

    toc = yaml.safe_load((copy / "_toc.yml").read_text())
    docs = [toc["root"]]
    for part in toc.get("parts", []):
        docs += [entry["file"] for entry in part.get("chapters", [])]
    return docs


def chapter_times(copy: Path) -> dict[str, float | None]:
    """Execution seconds of each TOC notebook, from the cache record matching its current code."""
    import nbformat
    from jupyter_cache import get_cache

    cache = get_cache(str(copy / "_build" / ".jupyter_cache"))
    times = {}
    for doc in toc_documents(copy):
        path = copy / f"{doc}.ipynb"
        if not path.is_file():
            continue
        try:
            record = cache.match_cache_notebook(nbformat.read(path, as_version=4))
            times[path.stem] = round(record.data.get("execution_seconds"), 2)
        except KeyError:
            times[path.stem] = None
    return times


# --- edits ---------------------------------------------------------------------------------------

def pick_notebook(copy: Path, wanted: str | None) -> Path:
    if wanted:
        path = copy / "chapters" / f"{Path(wanted).stem}.ipynb"
        if not path.is_file():
            sys.exit(f"bench_build: no notebook {path.relative_to(copy)}")
        return path
    notebooks = [copy / f"{doc}.ipynb" for doc in toc_documents(copy)
                 if (copy / f"{doc}.ipynb").is_file()]
    if not notebooks:
        sys.exit("bench_build: the TOC lists no notebook to edit")
    return notebooks[0]


def edit_prose(path: Path) -> str:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    cells = [c for c in notebook.cells if c.cell_type == "markdown"]
    if not cells:
        sys.exit(f"bench_build: {path.name} has no markdown cell")
    cells[-1].source = cells[-1].source.rstrip() + f"\n\n{PROSE_MARK}\n"
    nbformat.write(notebook, path)
    return f"{path.stem}: appended a sentence to its last markdown cell"


def edit_code(path: Path) -> str:
    import nbformat

    notebook = nbformat.read(path, as_version=4)
    for index, cell in enumerate(notebook.cells):
        # Not the Colab bootstrap (identical in every notebook) nor a cell magic (must come first).
        if (cell.cell_type == "code" and "mlbook" not in cell.metadata
                and not cell.source.lstrip().startswith("%%")):
            cell.source = f"{CODE_MARK}\n{cell.source}"
            nbformat.write(notebook, path)
            return f"{path.stem}: added a comment line to code cell {index}"
    sys.exit(f"bench_build: {path.name} has no code cell to edit")


# --- page weight ---------------------------------------------------------------------------------

class _Images(HTMLParser):
    def __init__(self):
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("img", "source") and attrs.get("src"):
            self.sources.append(attrs["src"])
        if tag in ("img", "source") and attrs.get("srcset"):
            self.sources += [part.strip().split()[0] for part in attrs["srcset"].split(",")
                             if part.strip()]
        if tag == "object" and attrs.get("data"):
            self.sources.append(attrs["data"])


def page_weights(site: Path) -> dict:
    pages = {}
    for page in sorted(site.rglob("*.html")):
        rel = page.relative_to(site)
        if rel.parts[0] in ("_static", "_sources", "mathjax", "html-manager", "requirejs",
                            "anywidget"):
            continue
        html = page.read_text(errors="replace")
        parser = _Images()
        parser.feed(html)
        images, missing = set(), []
        for src in parser.sources:
            parts = urlsplit(src)
            if parts.scheme or parts.netloc or src.startswith("data:"):
                continue
            target = (page.parent / unquote(parts.path)).resolve()
            if target.is_file():
                images.add(target)
            else:
                missing.append(src)
        image_bytes = sum(p.stat().st_size for p in images)
        pages[str(rel)] = {"html_bytes": len(html.encode()), "image_bytes": image_bytes,
                           "images": len(images), "total_bytes": len(html.encode()) + image_bytes,
                           "missing_images": missing}
    total = sum(p["total_bytes"] for p in pages.values())
    largest = max(pages, key=lambda k: pages[k]["total_bytes"]) if pages else None
    site_bytes = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    return {"pages": pages, "pages_total_bytes": total, "site_dir_bytes": site_bytes,
            "largest_page": largest,
            "over_limit": [k for k, v in pages.items() if v["total_bytes"] > TARGET_PAGE_BYTES]}


# --- MNIST ---------------------------------------------------------------------------------------

def mnist_figures(explicit: str | None) -> dict | None:
    if not (ROOT / "scripts" / "bench_mnist.py").is_file():
        return None
    out = Path(os.environ.get("MLBOOK_OUT") or ROOT)
    candidates = [Path(explicit)] if explicit else (
        [out / c for c in MNIST_RESULTS] + [ROOT / c for c in MNIST_RESULTS])
    for path in candidates:
        if path.is_file():
            text = path.read_text()
            block = re.search(r"```json\n(.*?)\n```", text, re.S)
            try:
                return {"file": str(path), "results": json.loads(block[1] if block else text)}
            except json.JSONDecodeError as err:
                return {"file": str(path), "error": f"not valid JSON: {err}"}
    return {"file": None, "error": "scripts/bench_mnist.py exists but no result file was found "
            f"(looked for {', '.join(str(c) for c in candidates)}); run `python "
            "scripts/bench_mnist.py > $MLBOOK_OUT/_build/bench/mnist.md` first"}


# --- the report ----------------------------------------------------------------------------------

def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def fmt_bytes(n: int) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def markdown(report: dict) -> str:
    lines = ["# Build benchmark", "",
             f"{report['when']} · {report['machine']} · source: {report['source']}", ""]
    steps = report.get("steps", {})
    if steps:
        lines += ["| step | time | executed notebooks (jupyter-cache) | build log says | "
                  "peak RSS | build | target |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, step in steps.items():
            executed = ", ".join(step["executed_records"]) or "none"
            logged = ", ".join(step["executed_log"]) or "none"
            target = step.get("target", "")
            state = "ok" if step["returncode"] == 0 else (
                f"{step['warnings']} warnings" if step["ok"] else
                f"FAILED (exit {step['returncode']}, cell errors: "
                f"{', '.join(step['failed_notebooks']) or 'none'})")
            lines.append(f"| {name} | {step['seconds']:.1f} s | {len(step['executed_records'])}: "
                         f"{executed} | {logged} | {step['peak_rss_mb']:.0f} MB | {state} | "
                         f"{target} |")
        lines.append("")
        if report.get("edits"):
            lines += ["Edits: " + "; ".join(report["edits"]), ""]
    times = report.get("chapter_seconds")
    if times:
        lines += ["## Execution time per chapter", "", "| notebook | seconds |", "| --- | --- |"]
        lines += [f"| {k} | {'—' if v is None else f'{v:.1f}'} |" for k, v in times.items()]
        lines.append("")
    weights = report.get("pages")
    if weights:
        lines += ["## Page weight (HTML + local images)", "",
                  "| page | HTML | images | total |", "| --- | --- | --- | --- |"]
        for name, page in sorted(weights["pages"].items(), key=lambda kv: -kv[1]["total_bytes"]):
            lines.append(f"| {name} | {fmt_bytes(page['html_bytes'])} | "
                         f"{fmt_bytes(page['image_bytes'])} ({page['images']}) | "
                         f"{fmt_bytes(page['total_bytes'])} |")
        lines += ["", f"All pages: {fmt_bytes(weights['pages_total_bytes'])}; the whole site "
                  f"folder (JavaScript, fonts, sources) {fmt_bytes(weights['site_dir_bytes'])}. "
                  f"Largest page: **{weights['largest_page']}**.", ""]
    mnist = report.get("mnist")
    if mnist is not None:
        lines += ["## MNIST time to accuracy (scripts/bench_mnist.py)", ""]
        if "results" in mnist:
            lines += mnist_table(mnist["results"])
            lines += [f"From `{mnist['file']}`:", "", "```json",
                      json.dumps(mnist["results"], indent=2), "```", ""]
        else:
            lines += [mnist["error"], ""]
    lines += ["## Targets", "", "| target | measured | verdict |", "| --- | --- | --- |"]
    for target in report["targets"]:
        lines.append(f"| {target['name']} | {target['measured']} | {verdict(target['ok'])} |")
    return "\n".join(lines) + "\n"


def mnist_table(results) -> list[str]:
    """A time-to-accuracy row for each model in bench_mnist's results that has epochs."""
    rows = []
    for name, model in (results.items() if isinstance(results, dict) else []):
        if not isinstance(model, dict):
            continue
        epochs = model.get("epochs")
        last = epochs[-1] if isinstance(epochs, list) and epochs else model
        if not isinstance(last, dict) or "test_accuracy" not in last:
            continue
        to_99 = model.get("seconds_to_99")
        rows.append(f"| {name} | {last.get('test_accuracy')} | {last.get('train_seconds')} s | "
                    + (f"{to_99} s (epoch {model.get('epochs_to_99')})" if to_99 else "not reached")
                    + " |")
    if not rows:
        return []
    return ["| model | final test accuracy | training time | time to 99 % |",
            "| --- | --- | --- | --- |", *rows, ""]


def targets(report: dict) -> list[dict]:
    steps, out = report.get("steps", {}), []
    clean = steps.get("clean build")
    out.append({"name": f"clean build <= {TARGET_CLEAN_S:.0f} s", "ok": None if clean is None else
                clean["ok"] and clean["seconds"] <= TARGET_CLEAN_S,
                "measured": "not run" if clean is None else f"{clean['seconds']:.1f} s"})
    prose = steps.get("prose edit")
    out.append({"name": "prose-edit rebuild <= 20 s, executes 0 notebooks",
                "ok": None if prose is None else prose["ok"]
                and prose["seconds"] <= TARGET_PROSE_S and not prose["executed_records"]
                and not prose["executed_log"],
                "measured": "not run" if prose is None else
                f"{prose['seconds']:.1f} s, {len(prose['executed_records'])} executed"})
    code = steps.get("code edit")
    if code is not None:
        edited = code["edited"]
        out.append({"name": "code-edit rebuild executes only the edited notebook",
                    "ok": code["ok"] and code["executed_records"] == [edited]
                    and code["executed_log"] == [edited],
                    "measured": ", ".join(code["executed_records"]) or "none"})
    noop = steps.get("no-op rebuild")
    if noop is not None:
        out.append({"name": "no-op rebuild executes 0 notebooks",
                    "ok": noop["ok"] and not noop["executed_records"]
                    and not noop["executed_log"],
                    "measured": f"{noop['seconds']:.1f} s, {len(noop['executed_records'])} "
                    "executed"})
    pages = report.get("pages")
    out.append({"name": "no page over 1 MB", "ok": None if pages is None else
                not pages["over_limit"],
                "measured": "not measured" if pages is None else
                f"largest {pages['largest_page']} "
                f"{fmt_bytes(pages['pages'][pages['largest_page']]['total_bytes'])}"
                + (f"; over: {', '.join(pages['over_limit'])}" if pages["over_limit"] else "")})
    return out


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"{platform.node()}, {os.cpu_count()} CPUs, load average {load} at the start, "
            f"Python {platform.python_version()}")


# --- main ----------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="report folder (default: "
                        "$MLBOOK_OUT/_build/bench, else _build/bench)")
    parser.add_argument("--workdir", type=Path,
                        help="use (and keep) this copy instead of a fresh temporary one")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copy")
    parser.add_argument("--from-head", action="store_true",
                        help="copy with `git clone` of HEAD instead of the working tree")
    parser.add_argument("--toc", type=Path, help="use this TOC file as the copy's _toc.yml")
    parser.add_argument("--notebook", help="notebook to edit (default: the first in the TOC)")
    parser.add_argument("--skip-clean", action="store_true",
                        help="no timed clean build (a fresh copy is still built once, untimed)")
    parser.add_argument("--skip-noop", action="store_true", help="no no-op rebuild")
    parser.add_argument("--skip-prose", action="store_true",
                        help="no rebuild after a markdown edit")
    parser.add_argument("--skip-code", action="store_true",
                        help="no rebuild after a code-cell edit")
    parser.add_argument("--skip-pages", action="store_true", help="no page weights")
    parser.add_argument("--pages-only", type=Path, metavar="SITE",
                        help="only measure the page weights of this built site")
    parser.add_argument("--mnist-json", help="result file of scripts/bench_mnist.py")
    parser.add_argument("--allow-warnings", action="store_true",
                        help="time builds that end with Sphinx warnings but no cell error "
                             "(with --toc, links to left-out chapters warn)")
    args = parser.parse_args(argv)

    out_base = Path(os.environ.get("MLBOOK_OUT") or ROOT)
    out = args.out or out_base / "_build" / "bench"
    report: dict = {"when": dt.datetime.now().isoformat(timespec="seconds"),
                    "machine": machine(), "targets": []}
    if args.pages_only:
        report["source"] = str(args.pages_only)
        report["pages"] = page_weights(args.pages_only)
        return finish(report, out)

    temporary = args.workdir is None
    copy = args.workdir or Path(tempfile.mkdtemp(prefix="mlbook-bench-")) / "book"
    report["source"] = ("git HEAD" if args.from_head else "working tree") + f" copied to {copy}"
    failed = False
    try:
        if copy.resolve() == ROOT or ROOT.is_relative_to(copy.resolve()):
            sys.exit(f"bench_build: --workdir {copy} would be the repository itself")
        if not args.skip_clean and copy.exists():
            if any(copy.iterdir()) and not (copy / "_toc.yml").is_file():
                sys.exit(f"bench_build: {copy} is not a copy of the book; not deleting it")
            shutil.rmtree(copy)  # a clean build starts from a fresh copy, without old edits
        if not copy.exists():
            make_copy(copy, args.from_head)
        if args.toc:
            shutil.copy(args.toc, copy / "_toc.yml")
        env = build_env(copy)
        report["data"] = env.get("MLBOOK_DATA")
        steps: dict[str, dict] = {}
        report["steps"] = steps
        report["edits"] = []

        def step(name: str, extra=None, changes: dict | None = None, **more) -> dict:
            nonlocal failed
            before = cache_records(copy)
            print(f"bench_build: {name} ...", file=sys.stderr, flush=True)
            result = run_build(copy, {**env, **(changes or {})}, extra)
            log = result.pop("log")
            (out / "logs").mkdir(parents=True, exist_ok=True)
            (out / "logs" / f"{name.replace(' ', '-')}.log").write_text(log)
            from_log = log_executions(log)
            plain = re.sub(r"\x1b\[[0-9;]*m", "", log)
            result.update(executed_records=new_executions(before, cache_records(copy)),
                          executed_log=from_log["executed"], cached_log=from_log["cached"],
                          warnings=len(re.findall(r"(?:WARNING|ERROR|CRITICAL):", plain)),
                          failed_notebooks=sorted({Path(m).stem for m in re.findall(
                              r"^(\S+\.ipynb): WARNING: Executing notebook failed", plain,
                              re.M)}), **more)
            # --allow-warnings: a build that only warned (e.g. links to chapters a private TOC
            # leaves out) still counts; a cell error never does.
            result["ok"] = result["returncode"] == 0 or (
                args.allow_warnings and not result["failed_notebooks"]
                and (copy / "_build" / "html" / "index.html").is_file())
            if not result["ok"]:
                failed = True
                print(f"bench_build: {name} failed (exit {result['returncode']}); log in "
                      f"{out / 'logs'}\n" + "\n".join(log.splitlines()[-25:]), file=sys.stderr)
            steps[name] = result
            return result

        if not args.skip_clean:
            step("clean build", target=f"<= {TARGET_CLEAN_S:.0f} s")
        elif not (copy / "_build" / "html" / "index.html").is_file():
            print("bench_build: preparing an untimed first build ...", file=sys.stderr)
            result = run_build(copy, env)
            if "Executing notebook failed" in result["log"] or not (
                    copy / "_build" / "html" / "index.html").is_file() or (
                    result["returncode"] != 0 and not args.allow_warnings):
                sys.exit("bench_build: the first build failed:\n" + result["log"][-3000:])
        if not failed and not args.skip_noop:
            step("no-op rebuild")
        notebook = pick_notebook(copy, args.notebook)
        if not failed and not args.skip_prose:
            report["edits"].append(edit_prose(notebook))
            step("prose edit", target=f"<= {TARGET_PROSE_S:.0f} s, 0 executed", changes=WRITING)
        if not failed and not args.skip_code:
            report["edits"].append(edit_code(notebook))
            step("code edit", target=f"only {notebook.stem} executed", edited=notebook.stem,
                 changes=WRITING)
        if (copy / "_build" / ".jupyter_cache").is_dir():
            report["chapter_seconds"] = chapter_times(copy)
        if not args.skip_pages and (copy / "_build" / "html" / "index.html").is_file():
            report["pages"] = page_weights(copy / "_build" / "html")
    finally:
        if temporary and not args.keep:
            shutil.rmtree(copy.parent, ignore_errors=True)
        elif temporary:
            print(f"bench_build: kept the copy at {copy} (reuse it with --workdir)",
                  file=sys.stderr)
    report["mnist"] = mnist_figures(args.mnist_json)
    code = finish(report, out)
    return 1 if failed else code


def finish(report: dict, out: Path) -> int:
    report["targets"] = targets(report)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report)
    (out / "report.md").write_text(text)
    print(text)
    print(f"bench_build: wrote {out / 'report.md'} and {out / 'report.json'}", file=sys.stderr)
    return 0 if all(t["ok"] is not False for t in report["targets"]) else 1


if __name__ == "__main__":
    sys.exit(main())
