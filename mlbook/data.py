"""MNIST through one function, with a root that an environment variable sets.

On a machine with internet, ``load_mnist`` downloads MNIST into the data root the first time.
Offline it reads an existing copy in torchvision's layout (``<root>/MNIST/raw/...``) and, if there
is none, raises :class:`MNISTUnavailableError` with a message that names the variable to set.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

DATA_ENV = "MLBOOK_DATA"
_REPO_ROOT = Path(__file__).resolve().parent.parent


class MNISTUnavailableError(RuntimeError):
    """MNIST could not be downloaded or read; the message says what to do."""


def data_root() -> Path:
    """Where data lives: ``$MLBOOK_DATA`` if set, else ``data/`` in the book's checkout.

    Installed outside a checkout (e.g. on Colab), the fallback is ``data/`` in the working
    directory.
    """
    configured = os.environ.get(DATA_ENV)
    if configured:
        return Path(configured).expanduser()
    if (_REPO_ROOT / "pyproject.toml").is_file() and (_REPO_ROOT / "_toc.yml").is_file():
        return _REPO_ROOT / "data"
    return Path.cwd() / "data"


def load_mnist(train: bool = True, transform=None, root: str | os.PathLike | None = None):
    """Return MNIST's training (``train=True``) or test split as ``torchvision.datasets.MNIST``.

    ``root`` defaults to :func:`data_root`. The returned dataset also exposes the raw pixels as
    ``dataset.data`` (uint8, N×28×28) and labels as ``dataset.targets``, which the book uses for
    fast whole-array work.
    """
    from torchvision.datasets import MNIST

    root = Path(root).expanduser() if root is not None else data_root()
    split = "training" if train else "test"
    if root.exists() and not root.is_dir():
        raise MNISTUnavailableError(
            f"The MNIST data root {root} is a file, not a folder. Set {DATA_ENV} to a folder "
            f"(e.g. export {DATA_ENV}=$HOME/mnist) and run again."
        )
    created = _snapshot(root)
    log = io.StringIO()
    try:
        # torchvision prints one line per failed mirror; keep them for the error message instead.
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            return MNIST(root=str(root), train=train, download=True, transform=transform)
    except Exception as err:
        _remove_new_files(root, created)
        raw = root / "MNIST" / "raw"
        if _is_download_failure(err, log.getvalue()):
            raise MNISTUnavailableError(
                f"Could not download MNIST's {split} set into {raw} (no internet?).\n"
                f"Fix: on a machine with internet, run this again and it downloads (about 12 MB). "
                f"Offline, point the {DATA_ENV} environment variable at a folder that holds "
                f"MNIST/raw/ with the four uncompressed IDX files, e.g.\n"
                f"    export {DATA_ENV}=/path/to/mnist-offline"
            ) from None  # torchvision's own traceback would only bury this message
        raise MNISTUnavailableError(
            f"The MNIST files in {raw} could not be read ({type(err).__name__}: {err}). "
            f"They are probably truncated or corrupt. Fix: delete {raw} and run again to download "
            f"a fresh copy, or set {DATA_ENV} to a folder with an intact copy."
        ) from err


def _is_download_failure(err: Exception, log: str) -> bool:
    text = f"{err}\n{log}".lower()
    return "download" in text or "urlopen" in text or "dataset not found" in text


def _snapshot(root: Path) -> set[Path] | None:
    """Paths under ``root`` now, so a failed download can remove only what it created."""
    if not root.exists():
        return None
    return set(root.rglob("*"))


def _remove_new_files(root: Path, before: set[Path] | None) -> None:
    if before is None:
        shutil.rmtree(root, ignore_errors=True)
        return
    for path in sorted(set(root.rglob("*")) - before, key=lambda p: len(p.parts), reverse=True):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
