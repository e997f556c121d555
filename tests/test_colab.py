"""The Colab canary (scripts/colab_canary.py): every chapter runs alone in Colab's package set.

Each chapter is copied into an empty folder and run in a separate environment with Colab's
packages (ipywidgets 7, no myst-nb), a fake ``google.colab``, and the bootstrap cell installing
this checkout's ``mlbook`` as it would install it from GitHub.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
from colab_canary import Canary, chapters, colab_versions, errors, loads_mnist, printed  # noqa: E402

GLUE_ROLE = re.compile(r"\{glue:text\}`([A-Za-z_][A-Za-z0-9_]*)")


@pytest.fixture(scope="module")
def canary():
    canary = Canary.prepare()
    yield canary
    canary.cleanup()


@pytest.mark.parametrize("chapter", chapters())
def test_chapter_runs_alone_with_colabs_packages(canary, chapter):
    canary.uninstall_mlbook()
    notebook = canary.run(chapter)  # a cell error raises here, with the cell and its traceback
    assert not errors(notebook)
    # Without myst-nb, every value the prose quotes is printed where it is computed.
    quoted = {name for cell in notebook.cells if cell.cell_type == "markdown"
              for name in GLUE_ROLE.findall(cell.source)}
    shown = printed(notebook)
    missing = sorted(name for name in quoted if f"{name} = " not in shown)
    assert not missing, f"values the prose quotes but a Colab reader never sees: {missing}"


def test_installing_mlbook_changes_none_of_colabs_packages(canary):
    canary.uninstall_mlbook()
    before = colab_versions(canary.python)
    subprocess.run([str(canary.python), "-m", "pip", "install", "-q", str(canary.package)],
                   check=True, capture_output=True)
    after = colab_versions(canary.python)
    assert "missing" not in before.values(), before
    assert after == before


@pytest.mark.parametrize("chapter", [c for c in chapters() if loads_mnist(c)])
def test_without_mnist_offline_the_chapter_stops_with_the_loaders_message(canary, chapter):
    subprocess.run([str(canary.python), "-m", "pip", "install", "-q", str(canary.package)],
                   check=True, capture_output=True)
    notebook = canary.run_without_data(chapter)
    raised = errors(notebook)
    assert raised, "the chapter ran without MNIST and without a network"
    first = raised[0]
    assert first["ename"] == "MNISTUnavailableError", f"{first['ename']}: {first['evalue']}"
    assert "MLBOOK_DATA" in first["evalue"], "the message must say what to set"
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(first["traceback"]))
    assert "site-packages/torchvision" not in traceback, "a torchvision traceback hides it"
