# Helpers shared by the scripts that install system packages and build images; source it after `cd`-ing to the
# repository root:  . scripts/lib.sh
# `step` prefixes each progress line with the script's name and the seconds since it started, so a slow phase in
# CI's log names itself.
SMMU_SCRIPT=${SMMU_SCRIPT:-$(basename "$0" .sh)}
SMMU_STARTED=$SECONDS
step() { printf '[%s +%ss] %s\n' "$SMMU_SCRIPT" "$((SECONDS - SMMU_STARTED))" "$*"; }

# Run a command as root: directly when root, else through sudo. Without sudo, say which command to run instead of
# failing with "command not found".
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "$SMMU_SCRIPT needs root for: $*" >&2
    echo "run it as root, or install sudo" >&2
    return 1
  fi
}

# Install Debian packages; Lock::Timeout waits for another apt (an unattended upgrade, a parallel job) instead of
# failing at once.
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "$SMMU_SCRIPT needs these packages, and this machine has no apt-get: $*" >&2
    return 1
  fi
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "$@" >/dev/null
}
