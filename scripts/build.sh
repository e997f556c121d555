#!/usr/bin/env bash
# Build the book into _build/html: set up .venv (first run), then `jupyter-book build .` with
# Sphinx warnings as errors. Everything else the site needs (the vendored JavaScript, the static
# widget switch, re-running notebooks when mlbook changes, the PDF) is done by the book's Sphinx
# extension, _ext/mlbook_site.py, so a plain `jupyter-book build .` makes the same site.
# Extra arguments go to `jupyter-book build`, e.g. `bash scripts/build.sh --all` for a clean rebuild.
# MLBOOK_OUT=DIR builds into DIR/_build instead (for parallel builds of one checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh "${MLBOOK_REQUIREMENTS:-requirements.txt}"
out="${MLBOOK_OUT:-.}"
mkdir -p "$out/_build"
jupyter-book build . --path-output "$out" --warningiserror --keep-going "$@" 2>&1 \
  | tee "$out/_build/build.log"
