#!/bin/sh
# pip-install.sh VENV REQUIREMENTS: install REQUIREMENTS into the virtual environment VENV, at the versions
# pinned in requirements.lock beside this script (the project's one pinned set, applied as constraints).
#
# Extra CA certificates (*.crt) beside this script are added to pip's trust for this install only: on a network
# whose HTTPS goes through an intercepting proxy, scripts/build-images.sh puts the host's extra certificates
# there (build/ca-certificates). They stay in the dependency stage; no final image contains them.
set -eu
venv=$1
requirements=$2
here=$(cd "$(dirname "$0")" && pwd)
if ls "$here"/*.crt >/dev/null 2>&1; then
  bundle=/etc/ssl/certs/ca-certificates.crt
  [ -f "$bundle" ] || bundle=$("$venv/bin/python" -c 'import pip._vendor.certifi as c; print(c.where())')
  cat "$bundle" "$here"/*.crt >"$here/ca-bundle.pem"
  export PIP_CERT="$here/ca-bundle.pem"
fi
"$venv/bin/pip" install --quiet --progress-bar off -r "$requirements" --constraint "$here/requirements.lock"
