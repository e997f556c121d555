#!/usr/bin/env python3
"""The Colab canary: run each chapter as a Colab reader would, alone, in Colab's package set.

For every chapter notebook:

1. copy the notebook alone into an empty folder (no repository around it, as on Colab);
2. run it in a kernel of a separate virtual environment that holds Colab's packages
   (``scripts/colab/requirements.txt``: ipywidgets 7, no myst-nb, no book tool chain), with a fake
   ``google.colab`` imported at start-up, so the bootstrap cell takes its Colab branch;
3. the bootstrap's ``%pip install "mlbook @ git+<repository>"`` is pointed at this checkout's
   package instead of the URL (the only change made to the notebook), and
4. any cell error fails the run.

Installing ``mlbook`` must change none of Colab's packages (their versions are compared before
and after). Then the chapters that load MNIST run once more with no ``MLBOOK_DATA`` and no
network (a proxy that refuses every connection): they must stop with ``MNISTUnavailableError`` and
its message, not a traceback from inside torchvision.

The environment is cached outside the checkout (``~/.cache/mlbook/colab-<hash>``, or
``$MLBOOK_COLAB_VENV``) and rebuilt only when ``scripts/colab/requirements.txt`` changes.

Usage: python scripts/colab_canary.py [chapter ...]     (tests/test_colab.py runs it per chapter)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "scripts" / "colab" / "requirements.txt"
KERNEL_NAME = "mlbook-colab-canary"
PACKAGE_FILES = ["pyproject.toml", "README.md", "LICENSE", "mlbook"]
CELL_TIMEOUT_S = 300
# Refuses every connection at once: the chapter sees an offline machine, wherever it runs.
OFFLINE_PROXY = "http://127.0.0.1:9"

# A stand-in for the modules a Colab runtime has imported before the first cell runs. anywidget
# calls enable_custom_widget_manager() and reads _widgets._installed_url, as on Colab.
FAKE_COLAB = {
    "google/colab/__init__.py": '"""A stand-in for Colab\'s google.colab (the canary)."""\n',
    "google/colab/output/__init__.py": (
        "from google.colab.output import _widgets\n\n"
        "enabled = []\n\n\n"
        "def enable_custom_widget_manager(*args, **kwargs):\n"
        "    enabled.append(True)\n"
    ),
    "google/colab/output/_widgets.py": "_installed_url = None\n",
}
STARTUP = "import google.colab\nimport google.colab.output\n"


def venv_path() -> Path:
    configured = os.environ.get("MLBOOK_COLAB_VENV")
    if configured:
        return Path(configured)
    digest = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "mlbook" / f"colab-{digest}"


def ensure_venv() -> Path:
    """The Colab-like environment, created on first use (a few minutes; then cached)."""
    venv = venv_path()
    python = venv / "bin" / "python"
    stamp = venv / ".mlbook-colab-installed"
    if stamp.is_file() and python.is_file():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    print(f"colab canary: creating Colab's package set in {venv} (first run: a few minutes) ...",
          flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    log = venv / "pip.log"
    with log.open("w") as out:
        result = subprocess.run([str(python), "-m", "pip", "install", "-r", str(REQUIREMENTS)],
                                stdout=out, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-30:])
        raise RuntimeError(f"colab canary: installing {REQUIREMENTS} failed:\n{tail}\n"
                           f"(full log: {log})")
    stamp.write_text(REQUIREMENTS.read_text())
    return python


def colab_versions(python: Path) -> dict[str, str]:
    """Versions of the packages Colab ships (those named in the requirements file)."""
    names = [re.split(r"[=<>\s]", line)[0].lower() for line in REQUIREMENTS.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, check=True).stdout
    installed = {p["name"].lower().replace("_", "-"): p["version"] for p in json.loads(listed)}
    return {name: installed.get(name, "missing") for name in names}


@dataclass
class Canary:
    """One prepared Colab-like set-up: the environment, the fake Colab, a copy of the package."""

    python: Path
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def prepare(cls) -> Canary:
        python = ensure_venv()
        workdir = Path(tempfile.mkdtemp(prefix="colab-canary-"))
        for relative, text in FAKE_COLAB.items():
            path = workdir / "fake" / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        startup = workdir / "ipython" / "profile_default" / "startup" / "00-colab.py"
        startup.parent.mkdir(parents=True)
        startup.write_text(STARTUP)
        # What `pip install git+<repository>` would get: the package's files, nothing else.
        package = workdir / "mlbook-src"
        package.mkdir()
        for name in PACKAGE_FILES:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, package / name,
                                ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(source, package / name)
        spec = workdir / "kernels" / KERNEL_NAME / "kernel.json"
        spec.parent.mkdir(parents=True)
        spec.write_text(json.dumps({
            "argv": [str(python), "-Xfrozen_modules=off", "-m", "ipykernel_launcher",
                     "-f", "{connection_file}"],
            "display_name": "Colab canary", "language": "python"}))
        env = {k: v for k, v in os.environ.items()
               if k not in ("MLBOOK_BUILD", "PYTHONPATH", "VIRTUAL_ENV")}
        env.update(PYTHONPATH=str(workdir / "fake"), IPYTHONDIR=str(workdir / "ipython"),
                   PIP_DISABLE_PIP_VERSION_CHECK="1")
        canary = cls(python, workdir, env)
        canary.uninstall_mlbook()
        return canary

    def uninstall_mlbook(self) -> None:
        """A fresh Colab runtime has no mlbook: remove what an earlier run installed."""
        subprocess.run([str(self.python), "-m", "pip", "uninstall", "-y", "-q", "mlbook"],
                       capture_output=True)

    def notebook(self, chapter: str) -> nbformat.NotebookNode:
        """The chapter with its bootstrap pointed at this checkout's package."""
        notebook = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
        bootstrap = notebook.cells[0]
        if bootstrap.get("metadata", {}).get("mlbook") != "colab-bootstrap":
            raise RuntimeError(f"{chapter}: the first cell is not the Colab bootstrap")
        source, count = re.subn(r'"mlbook @ git\+[^"]+"', f'"mlbook @ file://{self.package}"',
                                bootstrap.source)
        if count != 1:
            raise RuntimeError(f"{chapter}: the bootstrap cell does not install mlbook from git")
        bootstrap.source = source
        return notebook

    @property
    def package(self) -> Path:
        return self.workdir / "mlbook-src"

    def run(self, chapter: str, notebook=None, env=None, allow_errors=False):
        """Execute ``chapter`` alone in an empty folder; return the executed notebook."""
        folder = Path(tempfile.mkdtemp(prefix=f"{chapter}-", dir=self.workdir))
        notebook = notebook if notebook is not None else self.notebook(chapter)
        nbformat.write(notebook, folder / f"{chapter}.ipynb")  # alone, as Colab opens it
        specs = KernelSpecManager(kernel_dirs=[str(self.workdir / "kernels")])
        manager = KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)
        client = NotebookClient(notebook, km=manager, timeout=CELL_TIMEOUT_S,
                                allow_errors=allow_errors,
                                resources={"metadata": {"path": str(folder)}})
        client.execute(env=env or self.env)  # the kernel's environment, not this process's
        return notebook

    def run_without_data(self, chapter: str):
        """Run ``chapter`` offline with no MNIST (mlbook already installed); return the notebook."""
        notebook = nbformat.read(ROOT / "chapters" / f"{chapter}.ipynb", as_version=4)
        notebook.cells = notebook.cells[1:]  # the bootstrap would need the network to install
        env = {k: v for k, v in self.env.items() if k != "MLBOOK_DATA"}
        env.update(http_proxy=OFFLINE_PROXY, https_proxy=OFFLINE_PROXY,
                   HTTP_PROXY=OFFLINE_PROXY, HTTPS_PROXY=OFFLINE_PROXY, no_proxy="", NO_PROXY="")
        return self.run(chapter, notebook, env=env, allow_errors=True)

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def errors(notebook) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.get("output_type") == "error"]


def printed(notebook) -> str:
    return "".join(output.get("text", "") for cell in notebook.cells if cell.cell_type == "code"
                   for output in cell.get("outputs", []) if output.get("output_type") == "stream")


def loads_mnist(chapter: str) -> bool:
    source = (ROOT / "chapters" / f"{chapter}.ipynb").read_text()
    return "load_mnist" in source


def chapters() -> list[str]:
    return sorted(path.stem for path in (ROOT / "chapters").glob("*.ipynb"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", nargs="*", help="chapters to run (default: all)")
    args = parser.parse_args()
    canary = Canary.prepare()
    failed = []
    try:
        before = colab_versions(canary.python)
        for chapter in args.chapter or chapters():
            canary.uninstall_mlbook()
            try:
                canary.run(chapter)
                print(f"colab canary: {chapter}: ran without errors")
            except Exception as err:  # report every chapter, then fail
                failed.append(chapter)
                print(f"colab canary: {chapter}: FAILED\n{err}")
        after = colab_versions(canary.python)
        changed = {name: (version, after[name]) for name, version in before.items()
                   if after[name] != version}
        if changed:
            failed.append("packages")
            print(f"colab canary: installing mlbook changed Colab's packages: {changed}")
    finally:
        canary.cleanup()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
