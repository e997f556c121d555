# Sourced by build.sh and test.sh: create or update the virtual environment and set the data root.
# Re-installs only when a requirements file or pyproject.toml changed since the last install.
set -euo pipefail
# Paths are the repository's, wherever this is sourced from.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${MLBOOK_VENV:-.venv}"
REQUIREMENTS="${1:-requirements.txt}"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp="$(cat requirements*.txt pyproject.toml | sha256sum | cut -c1-16)-$REQUIREMENTS"
if ! grep -qx -- "$stamp" "$VENV/.mlbook-installed" 2>/dev/null; then
  echo "Installing $REQUIREMENTS into $VENV (first run: a few minutes; log in $VENV/pip.log) ..."
  if ! { "$VENV/bin/python" -m pip install --upgrade pip \
         && "$VENV/bin/python" -m pip install -r "$REQUIREMENTS"; } >"$VENV/pip.log" 2>&1; then
    tail -n 30 "$VENV/pip.log"
    echo "pip install -r $REQUIREMENTS failed; the full log is $VENV/pip.log" >&2
    exit 1
  fi
  echo "$stamp" >> "$VENV/.mlbook-installed"
fi
export PATH="$PWD/$VENV/bin:$PATH"

# MNIST: with internet the book downloads it into data/. Offline machines point MLBOOK_DATA at a
# copy in torchvision's layout; the project's development and CI machines have one in ../shared.
if [ -z "${MLBOOK_DATA:-}" ] && [ -d ../shared/data/mnist-offline/MNIST ]; then
  MLBOOK_DATA="$(cd ../shared/data/mnist-offline && pwd)"
  export MLBOOK_DATA
fi
