#!/usr/bin/env bash
# Run the tests on a fresh build: set up .venv with the test tools, install Chromium if missing,
# build the book, then run pytest (extra arguments go to pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh requirements-dev.txt
if ! command -v chromium >/dev/null 2>&1; then
  echo "Installing Debian's chromium for the browser tests ..."
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi
MLBOOK_REQUIREMENTS=requirements-dev.txt bash scripts/build.sh
python -m pytest "$@"
