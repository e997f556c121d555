#!/usr/bin/env python3
"""Keep the first cell of every chapter notebook equal to the Colab bootstrap for this repository.

The cell installs ``mlbook`` from the repository named in ``_config.yml``, and only on Colab
(Binder and local set-ups install it from ``requirements.txt``). It is tagged ``remove-cell`` so the
HTML does not show it. A fork changes ``repository.url`` in ``_config.yml`` and runs this script.

Usage: python scripts/sync_bootstrap.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat
import yaml

ROOT = Path(__file__).resolve().parent.parent
MARKER = "colab-bootstrap"


def bootstrap_source(config_path: Path = ROOT / "_config.yml") -> str:
    repository = yaml.safe_load(config_path.read_text())["repository"]
    url, branch = repository["url"].rstrip("/"), repository.get("branch", "main")
    return (
        "# On Colab, install the book's helper package (Binder and local set-ups have it).\n"
        "import sys\n"
        "\n"
        'if "google.colab" in sys.modules:\n'
        f'    %pip install --quiet "mlbook @ git+{url}@{branch}"'
    )


def bootstrap_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(bootstrap_source())
    cell.metadata = {"tags": ["remove-cell"], "mlbook": MARKER}
    cell.id = MARKER
    return cell


def notebooks() -> list[Path]:
    return sorted((ROOT / "chapters").glob("*.ipynb"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report stale notebooks, change none")
    args = parser.parse_args()
    stale = []
    for path in notebooks():
        notebook = nbformat.read(path, as_version=4)
        cells = notebook.cells
        has_bootstrap = cells and cells[0].get("metadata", {}).get("mlbook") == MARKER
        if has_bootstrap and cells[0].source == bootstrap_source():
            continue
        stale.append(path.relative_to(ROOT))
        if not args.check:
            if has_bootstrap:
                cells[0] = bootstrap_cell()
            else:
                cells.insert(0, bootstrap_cell())
            nbformat.write(notebook, path)
    verb = "need" if args.check else "updated"
    for path in stale:
        print(f"{verb} bootstrap: {path}")
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
