#!/usr/bin/env python3
"""Fetch the site's JavaScript from the npm registry, check it, and unpack it into ``_vendor/``.

The built HTML must make no request beyond its own origin, so MathJax, RequireJS and the
ipywidgets HTML manager are served from the site itself. Each package is a pinned npm tarball,
fetched over plain HTTPS (no Node.js needed) and checked against its SHA-256 before use.
``_vendor/`` is listed in ``html_extra_path``: Sphinx copies it to the site's root.

Usage: python scripts/vendor_js.py [--force]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "_vendor"
CACHE = ROOT / "_build" / "npm-cache"

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
]
# Source maps and the non-AMD bundle are not used by the page.
SKIP_SUFFIXES = (".map", "dist/embed.js", ".LICENSE.txt.map")


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
        sys.exit(f"vendor_js: could not download {url} ({err}). The build needs the npm registry "
                 f"once; after that the tarballs are cached in {CACHE}.")
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        sys.exit(f"vendor_js: checksum mismatch for {url}: got {digest}, expected {sha256}. "
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="unpack again even if up to date")
    args = parser.parse_args()
    stamp_file = VENDOR / "VERSIONS.txt"
    if not args.force and stamp_file.is_file() and stamp_file.read_text() == stamp():
        print(f"vendor_js: {VENDOR.relative_to(ROOT)}/ is up to date")
        return
    # Unpack into a temporary folder and swap it in whole, so a failure leaves no half-written tree.
    staging = Path(tempfile.mkdtemp(prefix="vendor-", dir=ROOT))
    try:
        for name, version, sha256, folder, keep in PACKAGES:
            count = unpack(fetch(name, version, sha256), keep, staging / folder)
            print(f"vendor_js: {name}@{version}: {count} files -> _vendor/{folder}/")
        (staging / "VERSIONS.txt").write_text(stamp())
        shutil.rmtree(VENDOR, ignore_errors=True)
        staging.rename(VENDOR)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


if __name__ == "__main__":
    main()
