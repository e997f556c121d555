"""Two clean builds print identical numbers: the build's outputs equal a fresh execution's.

For every chapter notebook, the text the build printed
(``<build>/jupyter_execute/chapters/*.ipynb``, written by myst-nb) is compared with a fresh
execution of the source notebook by nbclient, run as the build runs it (working directory
``chapters/``, ``MLBOOK_BUILD=static``). Compared: stdout streams and the ``text/plain`` and
``text/html`` of results and displays, glued values included. Not compared: images, widget state
and model ids, stderr (warnings, progress bars), memory addresses, and timings, which authors mark
(AUTHORING.md, "Timings"): a cell tagged ``timing`` is skipped whole, any output line
containing ``[timing]`` is dropped, and so is a value glued under a name ending in ``_seconds``
or ``_timing``.
"""

from __future__ import annotations

import difflib
import os
import re

import nbformat
import pytest
from conftest import BUILD, ROOT, notebook_pages

TIMING_TAG = "timing"
TIMING_MARK = "[timing]"
TIMING_GLUE_SUFFIXES = ("_seconds", "_timing")  # glue("mnist_cnn_seconds", ...) is a timing
TEXT_MIMES = ("text/plain", "text/html")
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
_NOISE = [  # images inside HTML, memory addresses, widget model ids
    (re.compile(r"data:image/[\w+.-]+;base64,[A-Za-z0-9+/=\s]+"), "data:image/..."),
    (re.compile(r"\b0x[0-9a-fA-F]{6,}\b"), "0x..."),
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
]


def _clean(text: str) -> list[str]:
    for pattern, replacement in _NOISE:
        text = pattern.sub(replacement, text)
    return [line.rstrip() for line in text.splitlines() if TIMING_MARK not in line]


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def text_outputs(notebook) -> dict[str, list[str]]:
    """The comparable text of each code cell, keyed by cell id (or position)."""
    result = {}
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or TIMING_TAG in cell.metadata.get("tags", []):
            continue
        lines: list[str] = []
        stdout = ""  # print() may arrive in several chunks: compare whole lines, not chunks
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream" and output.get("name") == "stdout":
                stdout += _text(output.get("text", ""))
                continue
            lines += _clean(stdout)
            stdout = ""
            if kind == "stream":
                continue
            elif kind in ("execute_result", "display_data"):
                glued = output.get("metadata", {}).get("scrapbook", {}).get("name", "")
                if glued.endswith(TIMING_GLUE_SUFFIXES):
                    continue
                data = output.get("data", {})
                for mime in TEXT_MIMES:
                    if mime in data and not (mime == "text/plain" and WIDGET_MIME in data):
                        lines += [f"[{mime}]", *_clean(_text(data[mime]))]
            elif kind == "error":
                lines += [f"[error] {output.get('ename')}: {output.get('evalue')}"]
        lines += _clean(stdout)
        result[cell.get("id") or f"cell {index}"] = lines
    return result


def differences(built, fresh) -> list[str]:
    """Human-readable differences between two notebooks' comparable text ([] if identical)."""
    a, b = text_outputs(built), text_outputs(fresh)
    problems = []
    for key in sorted(set(a) | set(b), key=lambda k: list(a).index(k) if k in a else 1e9):
        if a.get(key) != b.get(key):
            diff = difflib.unified_diff(a.get(key, []), b.get(key, []), "build", "fresh",
                                        lineterm="", n=1)
            problems.append(f"cell {key}:\n" + "\n".join(list(diff)[:30]))
    return problems


def _code(notebook) -> list[str]:
    return [c.source for c in notebook.cells if c.cell_type == "code"]


def _kernel_env() -> dict[str, str]:
    # As _ext/mlbook_site.py sets them for the build's kernels.
    env = {"MLBOOK_BUILD": "static", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}
    if not os.environ.get("MLBOOK_DATA"):
        mirror = ROOT.parent / "shared" / "data" / "mnist-offline"
        if (mirror / "MNIST").is_dir():  # as scripts/env.sh does for the build
            env["MLBOOK_DATA"] = str(mirror.resolve())
    return env


@pytest.mark.parametrize("doc", notebook_pages(), ids=lambda d: d.split("/")[-1])
def test_a_fresh_execution_prints_what_the_build_printed(site, doc, monkeypatch):
    from nbclient import NotebookClient

    source = ROOT / f"{doc}.ipynb"
    executed = BUILD / "jupyter_execute" / f"{doc}.ipynb"
    assert executed.is_file(), f"the build wrote no executed notebook {executed}"
    built = nbformat.read(executed, as_version=4)
    fresh = nbformat.read(source, as_version=4)
    if _code(built) != _code(fresh):
        pytest.fail(f"{source.name} changed since the build in {BUILD}: rebuild "
                    "(bash scripts/build.sh) before comparing")
    assert any(text_outputs(built).values()), f"the build's {executed.name} printed nothing"

    for name, value in _kernel_env().items():
        monkeypatch.setenv(name, value)
    NotebookClient(fresh, timeout=300, kernel_name="python3", allow_errors=False,
                   resources={"metadata": {"path": str(source.parent)}}).execute()
    problems = differences(built, fresh)
    assert not problems, (
        f"{doc}: a fresh execution printed something else than the build. Seed every random "
        "source, or mark timings (AUTHORING.md, 'Timings'):\n" + "\n\n".join(problems))


# --- the comparison itself can fail -------------------------------------------------------------

def _notebook(*cells):
    notebook = nbformat.v4.new_notebook()
    for source, outputs, tags in cells:
        cell = nbformat.v4.new_code_cell(source, metadata={"tags": tags} if tags else {})
        cell.outputs = outputs
        notebook.cells.append(cell)
    return notebook


def _stdout(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def _result(plain, **more):
    return nbformat.v4.new_output("execute_result", data={"text/plain": plain, **more},
                                  execution_count=1)


def test_a_changed_number_is_a_difference():
    built = _notebook(("print(a)", [_stdout("loss 0.1234\n")], []),
                      ("a", [_result("0.5")], []))
    fresh = _notebook(("print(a)", [_stdout("loss 0.1235\n")], []),
                      ("a", [_result("0.5")], []))
    for cell_b, cell_f in zip(built.cells, fresh.cells):
        cell_f["id"] = cell_b["id"]
    problems = differences(built, fresh)
    assert len(problems) == 1 and "0.1235" in problems[0]


def test_timings_images_stderr_and_addresses_are_not_compared():
    png = {"image/png": "iVBORw0KGgo="}
    built = _notebook(
        ("t", [_stdout("epoch 1 took 3.2 s\n")], [TIMING_TAG]),
        ("p", [_stdout("accuracy 0.91\nwall time 4.1 s [timing]\n"),
               nbformat.v4.new_output("stream", name="stderr", text="100%|####| 3/3\n")], []),
        ("f", [nbformat.v4.new_output("display_data", data={**png, "text/plain": "<Figure>"})],
         []),
        ("o", [_result("<object at 0x7f3a2b1c9d80>")], []),
        ("w", [_result("DescentExplorer(...)", **{WIDGET_MIME: {"model_id": "a" * 32}})], []),
    )
    fresh = _notebook(
        ("t", [_stdout("epoch 1 took 2.9 s\n")], [TIMING_TAG]),
        ("p", [_stdout("accuracy 0.91\nwall time 3.7 s [timing]\n"),
               nbformat.v4.new_output("stream", name="stderr", text="100%|####| 3/3 0.2s\n")],
         []),
        ("f", [nbformat.v4.new_output("display_data", data={"image/png": "AAAA",
                                                            "text/plain": "<Figure>"})], []),
        ("o", [_result("<object at 0x7f00aa11bb22>")], []),
        ("w", [_result("DescentExplorer(..)", **{WIDGET_MIME: {"model_id": "b" * 32}})], []),
    )
    glue = {"metadata": {"scrapbook": {"name": "chapter_seconds", "mime_prefix": ""}}}
    built.cells.append(_notebook(("g", [nbformat.v4.new_output(
        "display_data", data={"text/plain": "'41'"}, **glue)], [])).cells[0])
    fresh.cells.append(_notebook(("g", [nbformat.v4.new_output(
        "display_data", data={"text/plain": "'57'"}, **glue)], [])).cells[0])
    for cell_b, cell_f in zip(built.cells, fresh.cells):
        cell_f["id"] = cell_b["id"]
    assert differences(built, fresh) == []
    fresh.cells[-1].outputs[0]["metadata"]["scrapbook"]["name"] = "chapter_accuracy"
    assert len(differences(built, fresh)) == 1
    fresh.cells[-1].outputs[0]["metadata"]["scrapbook"]["name"] = "chapter_seconds"
    fresh.cells[1].outputs[0]["text"] = "accuracy 0.92\nwall time 3.7 s [timing]\n"
    assert len(differences(built, fresh)) == 1
