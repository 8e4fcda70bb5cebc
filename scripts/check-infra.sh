#!/usr/bin/env bash
# Static checks of the Terraform under infra/: formatting (terraform fmt), a security scan (checkov) and every
# resource type, argument and nested block against the AWS provider's schema (scripts/check_provider_schema.py;
# the schema comes from the npm package @cdktf/provider-aws, because the provider itself cannot be downloaded
# everywhere this runs). Needs python3 (with venv) and terraform on PATH; npm is installed where missing.
# checkov is installed into its own virtual environment (.venv-infra) because its dependency pins clash with the
# project's. Exits non-zero on any failure.
set -Eeuo pipefail
trap 'echo "check-infra.sh: \"$BASH_COMMAND\" failed (exit $?) at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."
. scripts/lib.sh

CHECKOV_VERSION=${CHECKOV_VERSION:-3.3.30}
# CDK for Terraform's bindings of hashicorp/aws 6.x (6.25.0): they carry the provider's schema.
PROVIDER_SCHEMA_PACKAGE=${PROVIDER_SCHEMA_PACKAGE:-@cdktf/provider-aws@21.22.1}
SCHEMA=build/provider-schema/$(echo "$PROVIDER_SCHEMA_PACKAGE" | tr -c 'A-Za-z0-9.\n' '_').json
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
    apt_install python3-venv
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

echo "== provider schema: $PROVIDER_SCHEMA_PACKAGE"
if [ ! -f "$SCHEMA" ]; then
  if ! command -v npm >/dev/null; then
    echo "npm is missing: installing Debian's npm"
    apt_install npm
  fi
  started=$SECONDS
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "$PROVIDER_SCHEMA_PACKAGE" >/dev/null)
  # Only the type manifest and the files that name each class's Terraform type are needed.
  tar -xzf "$tmp"/*.tgz -C "$tmp" --wildcards package/.jsii 'package/lib/*/index.js'
  "$PYTHON" scripts/check_provider_schema.py extract "$tmp/package" "$SCHEMA"
  rm -rf "$tmp"
  echo "== provider schema extracted in $((SECONDS - started))s"
fi
echo "== every resource type, argument and nested block in infra/ against the provider schema"
"$VENV/bin/python" scripts/check_provider_schema.py check "$SCHEMA" infra
