"""Repository hygiene that a reader or a fork relies on."""

import subprocess
import sys

import nbformat
import pytest
from conftest import ROOT, toc_files

sys.path.insert(0, str(ROOT / "scripts"))
from sync_bootstrap import MARKER, bootstrap_source  # noqa: E402

NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    dirty = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
             and (cell.get("outputs") or cell.get("execution_count"))]
    assert not dirty, f"cells {dirty} carry outputs or execution counts: run pre-commit"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_colab_bootstrap_installs_from_the_configured_repository(path):
    first = nbformat.read(path, as_version=4).cells[0]
    assert first.metadata.get("mlbook") == MARKER, "the first cell must be the Colab bootstrap"
    assert "remove-cell" in first.metadata.get("tags", [])
    assert first.source == bootstrap_source(), "run `python scripts/sync_bootstrap.py`"


def test_every_chapter_notebook_is_in_the_table_of_contents():
    listed = set(toc_files())
    orphans = [p.name for p in NOTEBOOKS if f"chapters/{p.stem}" not in listed]
    assert not orphans, f"notebooks missing from _toc.yml: {orphans}"


def test_code_passes_ruff():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


CODE_COLUMN = 78  # characters: wider code lines are clipped in the page's code column


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_visible_code_fits_the_pages_code_column(path):
    notebook = nbformat.read(path, as_version=4)
    wide = [(i, line) for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"
            and not {"remove-cell", "remove-input"} & set(cell.metadata.get("tags", []))
            for line in cell.source.splitlines() if len(line) > CODE_COLUMN]
    assert not wide, f"code lines wider than {CODE_COLUMN} characters (cell, line): {wide[:5]}"
