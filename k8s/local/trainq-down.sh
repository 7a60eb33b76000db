#!/usr/bin/env bash
# Stops what trainq-up.sh started (API, workers, watcher). Safe to run when nothing runs.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=trainq-procs.sh
source "$HERE/trainq-procs.sh"

for name in "${TRAINQ_COMPONENTS[@]}"; do
  stop_trainq "$name"
done
log "trainq stopped"
