#!/bin/sh
# The emulator container: `smmu emulator` (moto, Step Functions running real ASL, the Lambda executor, SQS event
# source pollers) and, unless SMMU_EMULATOR_PROVISION=0, the resource manifest applied to it after every start.
#
# moto keeps no state: a restarted emulator is empty. Provisioning here, on every start, makes a restart (by
# `docker compose restart emulator` or by the restart policy after a crash) heal itself. The healthcheck reports
# healthy only once the ready file exists, so "healthy" means "provisioned" and dependants wait for it. Jobs,
# uploads and results held before the restart are lost.
set -eu

port=${SMMU_EMULATOR_PORT:-4566}
work_dir=${SMMU_EMULATOR_WORK_DIR:-/var/lib/smmu}
ready_file=${SMMU_EMULATOR_READY_FILE:-/tmp/smmu-emulator-ready}
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
unset AWS_ENDPOINT_URL  # the emulator is the endpoint; its functions are told where it listens

rm -f "$ready_file"  # a restarted container keeps its file system: not ready until provisioned again
python -m smmu_stack.cli emulator --host 0.0.0.0 --port "$port" --work-dir "$work_dir" &
pid=$!
trap 'kill -TERM "$pid" 2>/dev/null || true' TERM INT

tries=0
until python /usr/local/bin/healthcheck.py "http://127.0.0.1:$port/" >/dev/null 2>&1; do
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "emulator exited before it answered" >&2
    exit 1
  fi
  tries=$((tries + 1))
  if [ "$tries" -ge 300 ]; then
    echo "emulator did not answer on port $port within 60 s" >&2
    kill -TERM "$pid" 2>/dev/null || true
    exit 1
  fi
  sleep 0.2
done

if [ "${SMMU_EMULATOR_PROVISION:-1}" = 1 ]; then
  if ! python -m smmu_stack.cli provision --endpoint-url "http://127.0.0.1:$port"; then
    echo "provisioning the emulator failed" >&2
    kill -TERM "$pid" 2>/dev/null || true
    exit 1
  fi
fi
touch "$ready_file"
echo "SMMU_EMULATOR_PROVISIONED endpoint=http://0.0.0.0:$port"

set +e
wait "$pid"
status=$?
if kill -0 "$pid" 2>/dev/null; then  # a signal interrupted wait: let the emulator finish stopping
  wait "$pid"
  status=$?
fi
exit "$status"
