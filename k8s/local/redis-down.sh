#!/usr/bin/env bash
# Stops the local redis-server started by redis-up.sh (its AOF data stays in $TRAINQ_LOCAL/redis).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
stop_component redis 10
