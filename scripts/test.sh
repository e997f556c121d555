#!/usr/bin/env bash
# Run the tests on a fresh build: set up .venv with the test tools, install Chromium and
# poppler-utils if missing, build the book, then run pytest (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh requirements-dev.txt
# Chromium for the browser tests and the PDF; poppler-utils (pdftotext, pdfimages) to read the PDF.
source scripts/apt_install.sh
install_missing chromium:"chromium fonts-liberation" pdftotext:poppler-utils
MLBOOK_REQUIREMENTS=requirements-dev.txt bash scripts/build.sh
python -m pytest "$@"
