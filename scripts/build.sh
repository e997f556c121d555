#!/usr/bin/env bash
# Build the book into _build/html: set up .venv (first run), then `jupyter-book build .` with
# Sphinx warnings as errors. Everything else the site needs (the vendored JavaScript, the static
# widget switch, re-running notebooks when mlbook changes, the PDF) is done by the book's Sphinx
# extension, _ext/mlbook_site.py, so a plain `jupyter-book build .` makes the same site.
# Extra arguments go to `jupyter-book build`, e.g. `bash scripts/build.sh --all` for a clean rebuild.
# MLBOOK_OUT=DIR builds into DIR/_build instead (for parallel builds of one checkout).
# MLBOOK_PDF=0 skips the PDF (_build/html/book.pdf), for quick builds while writing.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh "${MLBOOK_REQUIREMENTS:-requirements.txt}"
# Debian's Chromium prints the PDF (fonts-liberation: its serif face). Without it the site is
# still built, with no PDF and no link to one.
if [ "${MLBOOK_PDF:-1}" != 0 ] && [ -z "${MLBOOK_CHROMIUM:-}" ]; then
  source scripts/apt_install.sh
  install_missing chromium:"chromium fonts-liberation" \
    || echo "Could not install Chromium: building the site without book.pdf." >&2
fi
out="${MLBOOK_OUT:-.}"
mkdir -p "$out/_build"
jupyter-book build . --path-output "$out" --warningiserror --keep-going "$@" 2>&1 \
  | tee "$out/_build/build.log"
