#!/usr/bin/env bash
# Static checks of the Terraform under infra/: formatting (terraform fmt) and a security scan (checkov).
# Needs python3 (with venv) and terraform on PATH. checkov is installed into its own virtual environment
# (.venv-infra) because its dependency pins clash with the project's. Exits non-zero on any failure.
set -Eeuo pipefail
trap 'echo "check-infra.sh: \"$BASH_COMMAND\" failed (exit $?) at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
VENV=.venv-infra
PYTHON=${PYTHON:-python3}

command -v terraform >/dev/null || { echo "terraform is not on PATH" >&2; exit 1; }

echo "== terraform fmt -check -recursive infra"
terraform fmt -check -recursive -diff infra

stamp="$VENV/.checkov-$CHECKOV_VERSION"
if [ ! -f "$stamp" ]; then
  echo "== installing checkov $CHECKOV_VERSION into $VENV"
  if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
    # Debian's python3 ships venv/ensurepip separately.
    echo "python3 has no venv module: installing python3-venv"
    if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends python3-venv >/dev/null
  fi
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet "checkov==$CHECKOV_VERSION"
  touch "$stamp"
fi

echo "== checkov -d infra"
# --framework terraform: the JSON manifest and the other files are checked by the project's own tests.
# --skip-download: no policy or module downloads (offline machines, reproducible results).
# Skips live in the code, next to the resource, each with its reason (#checkov:skip=CKV_...:reason).
started=$SECONDS
BC_SKIP_MAPPING=TRUE "$VENV/bin/checkov" -d infra --framework terraform --quiet --compact --skip-download
echo "== checkov finished in $((SECONDS - started))s"
