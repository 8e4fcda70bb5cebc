#!/usr/bin/env bash
# The compose stack end to end: build the images, `docker compose up --wait`, upload an image through the API,
# run the e2e suite against the stack, restart the emulator mid-run and check the stack heals, then
# `docker compose down -v`. Prints the time of each phase. Exits non-zero on the first failure (after printing
# the containers' state and logs, and taking the stack down).
#
# Environment: SMMU_EMULATOR (moto | localstack), SMMU_LOCALSTACK_OFFLINE=1 (LocalStack with the CI/offline-only
# substitutes of docker/localstack/offline/ for what it downloads on first Lambda use; LOCALSTACK_IMAGE set: that
# image instead of building smmu-localstack:local), SMMU_COMPOSE_PROFILES (e.g. "workers"), SMMU_API_PORT and
# SMMU_EMULATOR_PORT (default 8000 and 4566; a free port is chosen when the default is taken),
# SMMU_KEEP_STACK=1 to leave the stack running at the end, PYTEST_ARGS (extra arguments for pytest).
set -Eeuo pipefail
trap 'echo "compose-e2e.sh: \"$BASH_COMMAND\" failed (exit $?) at line $LINENO" >&2' ERR
cd "$(dirname "$0")/.."

export DOCKER_BUILDKIT=0 COMPOSE_BAKE=false
export COMPOSE_PROFILES=${SMMU_COMPOSE_PROFILES:-}
export SMMU_EMULATOR=${SMMU_EMULATOR:-moto}

started=$SECONDS
phase_started=$SECONDS
timings=()
phase() { printf '\n=== compose-e2e: %s (+%ss) ===\n' "$1" "$((SECONDS - started))"; phase_started=$SECONDS; current=$1; }
done_phase() { timings+=("$(printf '%-56s %4ss' "$current" "$((SECONDS - phase_started))")"); }
current=setup

stack_up=0
registry=0
project=${COMPOSE_PROJECT_NAME:-smmu}
workdir=$(mktemp -d)
# LocalStack's function containers are not the project's: they carry the label smmu.lambda-of instead.
remove_function_containers() {
  local ids
  ids=$(docker ps -aq --filter "label=smmu.lambda-of=$project")
  if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
}
on_exit() {
  local status=$?
  rm -rf "$workdir"
  if [ "$status" != 0 ] && [ "$stack_up" = 1 ]; then
    echo "--- compose-e2e failed in phase '$current'; the stack's state and logs:" >&2
    docker compose ps -a >&2 || true
    docker compose logs --no-color --tail 60 >&2 || true
  fi
  if [ "$stack_up" = 1 ] && { [ "$status" != 0 ] || [ "${SMMU_KEEP_STACK:-0}" != 1 ]; }; then
    docker compose down -v --remove-orphans >/dev/null 2>&1 || true
    remove_function_containers || true
  fi
  if [ "$registry" = 1 ] && [ "${SMMU_KEEP_STACK:-0}" != 1 ]; then scripts/build-localstack.sh --stop-registry || true; fi
  exit "$status"
}
trap on_exit EXIT

# A published port another process holds would fail `up` late and obscurely: pick a free one instead.
port_free() { python3 -c 'import socket, sys; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

phase "build (scripts/build-images.sh)"
scripts/build-images.sh
done_phase

if [ "$SMMU_EMULATOR" = localstack ] && [ -z "${LOCALSTACK_IMAGE:-}" ]; then
  phase "build LocalStack (scripts/build-localstack.sh)"
  if [ "${SMMU_LOCALSTACK_OFFLINE:-0}" = 1 ]; then
    registry=1
    scripts/build-localstack.sh --offline
    export COMPOSE_FILE=docker-compose.yml:docker/localstack/offline/compose.yml
  else
    scripts/build-localstack.sh
  fi
  done_phase
fi

phase "host tools (scripts/bootstrap.sh)"
scripts/bootstrap.sh
PY=.venv/bin/python
done_phase

phase "up (docker compose up --wait)"
docker compose down -v --remove-orphans >/dev/null 2>&1 || true  # a stack left over by an interrupted run
for var in SMMU_API_PORT:8000 SMMU_EMULATOR_PORT:4566; do
  name=${var%%:*}
  port=${!name:-${var##*:}}
  if ! port_free "$port"; then
    new=$(free_port)
    echo "port $port is taken on 127.0.0.1; $name=$new"
    port=$new
  fi
  export "$name=$port"
done
export SMMU_API_URL=http://127.0.0.1:$SMMU_API_PORT
# A fresh API key for this run: the provision service registers it for the dev tenant; the CLI and the e2e
# suite send it (SMMU_API_KEY).
SMMU_DEV_API_KEY=$(python3 -c 'import secrets as s; print("smmu_" + s.token_hex(6) + "_" + s.token_urlsafe(32))')
export SMMU_DEV_API_KEY SMMU_API_KEY=$SMMU_DEV_API_KEY
stack_up=1
docker compose up --wait --wait-timeout 300
docker compose ps -a
done_phase

if [ "$SMMU_EMULATOR" = localstack ]; then export SMMU_E2E_TARGET=localstack; else export SMMU_E2E_TARGET=compose; fi
export AWS_ENDPOINT_URL=http://127.0.0.1:$SMMU_EMULATOR_PORT
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_DEFAULT_REGION=us-east-1
"$PY" -c 'import sys; from PIL import Image; Image.new("RGB", (800, 600), (40, 120, 200)).save(sys.argv[1], quality=90)' \
  "$workdir/smoke.jpg"

upload() {
  # `smmu upload --wait` exits non-zero unless the job ends COMPLETED.
  .venv/bin/smmu upload "$workdir/smoke.jpg" --wait --json --timeout 120 --api "$SMMU_API_URL" >"$workdir/upload.json"
  grep -q '"status": "COMPLETED"' "$workdir/upload.json"
  echo "upload of smoke.jpg: COMPLETED"
}

phase "smoke (smmu upload smoke.jpg --wait)"
upload
done_phase

phase "e2e suite (pytest tests/e2e)"
# shellcheck disable=SC2086
.venv/bin/pytest tests/e2e -p no:cacheprovider ${PYTEST_ARGS:-}
done_phase

phase "emulator restart (restart emulator, up --wait, upload)"
# The emulator loses all state on restart (moto keeps none; LocalStack's community edition neither): the moto
# emulator provisions itself again before it reports healthy, and `up` re-runs the one-shot provision service.
docker compose restart emulator
docker compose up --wait --wait-timeout 300
upload
done_phase

phase "down (docker compose down -v)"
if [ "${SMMU_KEEP_STACK:-0}" = 1 ]; then
  echo "SMMU_KEEP_STACK=1: leaving the stack running (docker compose down -v removes it)"
else
  docker compose down -v --remove-orphans
  # LocalStack starts function containers through the Docker socket and keeps them warm; any it had no time to
  # stop when it was stopped outlive it and keep the network in use. With the emulator gone no new one can start:
  # remove them, then let compose remove the network it could not.
  if [ -n "$(docker ps -aq --filter "label=smmu.lambda-of=$project")" ]; then
    remove_function_containers
    docker compose down -v --remove-orphans
  fi
  stack_up=0
  left=$(docker ps -aq --filter "label=com.docker.compose.project=$project"; docker ps -aq --filter "label=smmu.lambda-of=$project"
    docker volume ls -q --filter "label=com.docker.compose.project=$project"
    docker network ls -q --filter "label=com.docker.compose.project=$project")
  if [ -n "$left" ]; then
    echo "docker compose down -v left resources behind: $left" >&2
    exit 1
  fi
  echo "nothing left behind (containers, volumes, network)"
fi
done_phase

printf '\n=== compose-e2e: timings ===\n'
printf '  %s\n' "${timings[@]}"
printf '  %-56s %4ss\n' "total" "$((SECONDS - started))"
