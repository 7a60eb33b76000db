#!/usr/bin/env bash
# Starts the Debian redis-server on loopback with AOF persistence (accepted jobs must survive a
# crash), data under $TRAINQ_LOCAL/redis. A no-op when ours is already answering.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    log "installing redis-server (Debian package)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server) >/dev/null
  else
    log "redis-server is not installed: sudo apt-get install redis-server"; exit 1
  fi
fi
if is_running redis && redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1; then
  exit 0
fi
stop_component redis 5
# A stale server on our port from a killed run answers PING but has no pid file: shut it down.
redis-cli -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
mkdir -p "$TRAINQ_LOCAL/redis"
# hash-max-listpack-value 1024: a job record (its spec is ~350 bytes of JSON) stays a compact
# listpack instead of a hashtable: ~1 KiB less per queued job (benchmarks/RESULTS.md, figure 4).
start_component redis redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
  --dir "$TRAINQ_LOCAL/redis" --appendonly yes --appendfsync everysec --save '' \
  --hash-max-listpack-value 1024 --databases 64 --daemonize no --protected-mode yes
wait_for "redis on :$REDIS_PORT" 30 redis-cli -p "$REDIS_PORT" ping
