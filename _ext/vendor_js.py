#!/usr/bin/env python3
"""Fetch the site's JavaScript from the npm registry, check it, and unpack it into ``_vendor/``.

The built HTML must make no request beyond its own origin, so MathJax, RequireJS, the ipywidgets
HTML manager and anywidget are served from the site itself. Each package is a pinned npm tarball,
fetched over plain HTTPS (no Node.js needed) and checked against its SHA-256 before use; the
tarballs are cached in ``~/.cache/mlbook/npm`` (``$XDG_CACHE_HOME``), so a new checkout builds
without downloading them again. ``_vendor/`` is listed in ``html_extra_path``: Sphinx copies it
to the site's root.

The book's Sphinx extension (``mlbook_site.py``) calls :func:`vendor` at the start of every build.
By hand: python _ext/vendor_js.py [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "_vendor"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlbook" / "npm"

# name, version, tarball sha256, destination folder, files or folders to keep (inside "package/")
PACKAGES = [
    ("requirejs", "2.3.8",
     "777158e89275e16bd51aec3ef714fbcb5dc45789e7078659933bc814916d7dec",
     "requirejs", ["require.js", "README.md", "package.json"]),
    ("@jupyter-widgets/html-manager", "1.0.15",
     "2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638",
     "html-manager", ["dist/", "package.json"]),
    ("mathjax", "3.2.2",
     "1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09",
     "mathjax", ["es5/tex-mml-chtml.js", "es5/input/tex/extensions/",
                 "es5/output/chtml/fonts/woff-v2/", "es5/a11y/", "es5/ui/", "es5/adaptors/",
                 "LICENSE", "package.json"]),
    # The AMD build of anywidget's front end: the html-manager's require.js loads it for the
    # book's own widgets, whose ES modules travel in the saved widget state.
    ("anywidget", "0.11.0",
     "44efed0d0c9999ec94cd3a86e317e902591f01df8edb3c8006b7e390b7e15ed8",
     "anywidget", ["dist/index.js", "LICENSE", "package.json"]),
]
# Source maps and the non-AMD bundle are not used by the page.
SKIP_SUFFIXES = (".map", "dist/embed.js", ".LICENSE.txt.map")


class VendorError(RuntimeError):
    """A package could not be fetched or failed its checksum; the message says which."""


def tarball_url(name: str, version: str) -> str:
    return f"{REGISTRY}/{name}/-/{name.split('/')[-1]}-{version}.tgz"


def fetch(name: str, version: str, sha256: str) -> bytes:
    cached = CACHE / f"{name.replace('/', '__')}-{version}.tgz"
    if cached.is_file():
        data = cached.read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
    url = tarball_url(name, version)
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            data = response.read()
    except OSError as err:
        raise VendorError(f"could not download {url} ({err}). The build needs the npm registry "
                          f"once; after that the tarballs are cached in {CACHE}.") from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise VendorError(f"checksum mismatch for {url}: got {digest}, expected {sha256}. "
                          "Refusing to use it.")
    CACHE.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(data)
    return data


def unpack(data: bytes, keep: list[str], destination: Path) -> int:
    count = 0
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        for member in archive.getmembers():
            if not member.isfile() or not member.name.startswith("package/"):
                continue
            inner = member.name.removeprefix("package/")
            wanted = any(inner == k or (k.endswith("/") and inner.startswith(k)) for k in keep)
            if not wanted or inner.endswith(SKIP_SUFFIXES):
                continue
            target = destination / inner.removeprefix("es5/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.extractfile(member).read())
            count += 1
    return count


def stamp() -> str:
    return "\n".join(f"{name}@{version} {sha}" for name, version, sha, _, _ in PACKAGES) + "\n"


def vendor(force: bool = False, log=print) -> None:
    """Make ``_vendor/`` hold exactly the pinned packages (a no-op when it already does)."""
    stamp_file = VENDOR / "VERSIONS.txt"
    if not force and stamp_file.is_file() and stamp_file.read_text() == stamp():
        return
    # Unpack into a temporary folder and swap it in whole, so a failure leaves no half-written tree.
    staging = Path(tempfile.mkdtemp(prefix="vendor-", dir=ROOT))
    try:
        for name, version, sha256, folder, keep in PACKAGES:
            count = unpack(fetch(name, version, sha256), keep, staging / folder)
            log(f"vendor_js: {name}@{version}: {count} files -> _vendor/{folder}/")
        (staging / "VERSIONS.txt").write_text(stamp())
        shutil.rmtree(VENDOR, ignore_errors=True)
        staging.rename(VENDOR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="unpack again even if up to date")
    try:
        vendor(force=parser.parse_args().force)
    except VendorError as err:
        sys.exit(f"vendor_js: {err}")


if __name__ == "__main__":
    main()
