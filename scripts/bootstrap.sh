#!/usr/bin/env bash
# Create or refresh the project's virtual environment (.venv) with everything the system and its tests need.
# Idempotent and quick when nothing changed: the install is keyed on pyproject.toml, the lock and this script.
# Every version comes from requirements.lock (`make lock`), the pinned set the images and the Lambda dependency
# layer install from too; it is applied as constraints, so each installs only what it needs, at the locked version.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# pip's notes about optional package locations that do not exist on this machine are noise, not errors.
quiet() { grep -v -e "is ignored: it is neither a file nor a directory" || true; }
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "smmu needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.smmu-installed
want=$(cat pyproject.toml requirements.lock "$0" | sha256sum | cut -d" " -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip 2>&1 | quiet
  .venv/bin/python -m pip install --quiet --constraint requirements.lock -e ".[dev]" 2>&1 | quiet
  # openai-whisper (the second transcription backend) without its declared dependencies: they would pull
  # triton (~1 GB, unused on CPU); its real runtime dependencies are in the `workers` extra.
  .venv/bin/python -m pip install --quiet --no-deps --constraint requirements.lock openai-whisper 2>&1 | quiet
  echo "$want" > "$stamp"
fi
