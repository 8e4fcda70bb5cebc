#!/usr/bin/env bash
# Bring this machine to where `make dev` / `make test` can run: the system tools (FFmpeg for the media workers,
# espeak-ng for the tests' speech, Chromium for the web app's browser tests, Python's venv module) and the
# project's virtual environment (.venv).
# Idempotent and quick when nothing changed: the install is keyed on pyproject.toml, the lock and this script.
# Every version comes from requirements.lock (`make lock`), the one pinned set the images and the Lambda
# dependencies install from too; it is applied as constraints, so each installs only what it needs, locked.
#
#   scripts/bootstrap.sh [dev|test]    dev: what the running system needs; test (default): that and the tests' tools
#
# Missing system tools are installed with apt-get where that can be done (root, or sudo without a password);
# otherwise it stops with the one command to run. SMMU_SKIP_SYSTEM_PACKAGES=1 skips that check.
set -Eeuo pipefail
trap 'echo "bootstrap.sh: \"$BASH_COMMAND\" failed (exit $?) at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PURPOSE=${1:-test}

# The system tools, by the Debian/Ubuntu package that brings each.
ensure_system_packages() {
  local -a missing=()
  { command -v ffmpeg && command -v ffprobe; } >/dev/null || missing+=(ffmpeg)
  if [ "$PURPOSE" = test ]; then command -v espeak-ng >/dev/null || missing+=(espeak-ng); fi
  # The web app's browser tests drive Chromium (tests/web). Debian's package is a real browser (Ubuntu's is a
  # snap wrapper that does not install in a container), so only there is it installed; elsewhere those tests
  # skip, saying why.
  if [ "$PURPOSE" = test ] && ! command -v chromium >/dev/null && grep -qs '^ID=debian' /etc/os-release; then
    missing+=(chromium)
  fi
  [ -x .venv/bin/python ] || "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3-venv)
  [ "${#missing[@]}" -gt 0 ] || return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo=sudo; else sudo=none; fi
  fi
  if ! command -v apt-get >/dev/null || [ "$sudo" = none ]; then
    echo "smmu needs ${missing[*]}, which this machine lacks. Install them, then run this command again:" >&2
    if command -v apt-get >/dev/null; then
      echo "    sudo apt-get install ${missing[*]}" >&2
    else
      echo "    brew install ${missing[*]/python3-venv/}   (macOS; elsewhere your package manager's equivalent)" >&2
    fi
    exit 1
  fi
  echo "bootstrap: installing ${missing[*]} with apt-get"
  # Lock::Timeout: wait for another apt (an unattended upgrade, a parallel job) instead of failing at once.
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
[ "${SMMU_SKIP_SYSTEM_PACKAGES:-0}" = 1 ] || ensure_system_packages

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
