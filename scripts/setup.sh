#!/usr/bin/env bash
# Create .venv and install the project with its pinned dependencies (skipped when up to date).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.b2b_assets-installed"
wanted="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$wanted" ]; then
  echo "setup: installing the pinned dependencies of pyproject.toml into .venv" >&2
  # -qq: errors only (pip's notices about the machine's index settings are not the project's).
  .venv/bin/python -m pip install -qq --disable-pip-version-check -e '.[dev,bench,spark]'
  echo "$wanted" > "$stamp"
fi
