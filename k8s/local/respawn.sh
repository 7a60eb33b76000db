#!/usr/bin/env bash
# respawn.sh STATUS CMD...: runs CMD, and again (after 1 s) each time it exits with STATUS, as
# the kubelet restarts a pod. The watcher exits 3 when it lost its Lease (say the apiserver was
# down longer than its renew deadline) and must come back as a candidate; under `make up`
# nothing else would start it again. Any other exit status (0 on SIGTERM) ends the loop.
set -uo pipefail
again="$1"; shift
while true; do
  "$@"
  rc=$?
  [ "$rc" -eq "$again" ] || exit "$rc"
  echo "[respawn] $1 exited $rc; starting it again in 1s" >&2
  sleep 1
done
