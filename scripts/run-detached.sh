#!/usr/bin/env bash
# Start a daemon that outlives its caller: run-detached.sh LOG COMMAND [ARG...]
#
# The daemon must not inherit the caller's open files: a caller's `flock FILE cmd` lock would be held for as long
# as the daemon runs, and a CI harness's pipes would never reach end-of-file. So every descriptor above 2 is closed
# first. Bash's `exec {fd}>&-` closes a descriptor of any number; POSIX sh only parses single-digit ones
# (`exec 12>&-` runs a command named "12" and ends the shell with 127).
set -Eeuo pipefail
trap 'echo "run-detached: \"$BASH_COMMAND\" failed (exit $?) at line $LINENO" >&2' ERR
if [ $# -lt 2 ]; then
  echo "usage: $0 LOG COMMAND [ARG...]" >&2
  exit 2
fi
log=$1
shift
for fd_path in /proc/$$/fd/*; do
  fd=${fd_path##*/}
  # The glob's own directory descriptor is listed but already closed.
  if [ "$fd" -gt 2 ] && [ -e "/proc/$$/fd/$fd" ]; then
    exec {fd}>&-
  fi
done
nohup setsid "$@" </dev/null >>"$log" 2>&1 &
echo "$!"
