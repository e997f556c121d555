#!/usr/bin/env bash
# Build the book into _build/html: set up .venv, vendor the JavaScript, execute every notebook
# (cached by jupyter-cache) and fail on any cell error or Sphinx warning.
# Extra arguments go to `jupyter-book build`, e.g. `bash scripts/build.sh --all` for a clean rebuild.
# MLBOOK_OUT=DIR builds into DIR/_build instead (for parallel builds of one checkout).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh "${MLBOOK_REQUIREMENTS:-requirements.txt}"
python scripts/vendor_js.py
out="${MLBOOK_OUT:-.}"
mkdir -p "$out/_build"
# jupyter-cache re-executes a notebook when its code changes, but cannot see the mlbook package that
# notebooks import: when mlbook changes, drop the cache and re-read every page (--all), so no page
# shows stale outputs.
package_hash="$(cat mlbook/*.py | sha256sum | cut -c1-16)"
rebuild=()
if [ "$(cat "$out/_build/.mlbook-package-hash" 2>/dev/null)" != "$package_hash" ]; then
  if [ -d "$out/_build/.jupyter_cache" ]; then
    echo "mlbook changed: every notebook will be executed again."
  fi
  rm -rf "$out/_build/.jupyter_cache"
  rebuild=(--all)
  # Recorded now, not after the build: a failed build must not make the next one start over.
  echo "$package_hash" > "$out/_build/.mlbook-package-hash"
fi
# MLBOOK_BUILD=static: widgets leave out controls that only work with a live kernel.
MLBOOK_BUILD=static jupyter-book build . --path-output "$out" --warningiserror --keep-going \
  "${rebuild[@]}" "$@" 2>&1 | tee "$out/_build/build.log"
