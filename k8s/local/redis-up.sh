#!/usr/bin/env bash
# Starts the Debian redis-server on loopback with AOF persistence (accepted jobs must survive a
# crash), data under $TRAINQ_LOCAL/redis, requiring $REDIS_PASSWORD (env.sh). A no-op when ours
# is already answering with that password; one started before Redis required a password is
# made to require it in place (no restart: connected clients stay); one with another password
# is restarted (its data is kept).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

# redis-sentinel: the Redis failover test runs real sentinels beside real servers.
if ! command -v redis-server >/dev/null || ! command -v redis-sentinel >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    log "installing redis-server and redis-sentinel (Debian packages)"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq redis-server redis-sentinel) >/dev/null
  else
    log "redis-server/redis-sentinel missing: sudo apt-get install redis-server redis-sentinel"
    exit 1
  fi
fi
# redis-cli answers an error (NOAUTH) with exit status 0: compare the reply. The password
# goes through the environment or stdin, never a command line.
cli_as() {  # cli_as PASSWORD ARGS...: redis-cli as that password ("": none)
  local pw="$1"; shift
  if [ -n "$pw" ]; then REDISCLI_AUTH="$pw" redis-cli --no-auth-warning -p "$REDIS_PORT" "$@"
  else env -u REDISCLI_AUTH redis-cli -p "$REDIS_PORT" "$@"; fi
}
ping_as() { cli_as "$1" ping 2>/dev/null || true; }
redis_ready() { [ "$(ping_as "$REDIS_PASSWORD")" = PONG ]; }
auth_conf="$TRAINQ_LOCAL/redis/auth.conf"
write_auth_conf() {  # requirepass in a file only we can read
  mkdir -p "$TRAINQ_LOCAL/redis"
  (umask 077; printf 'requirepass %s\n' "$REDIS_PASSWORD" >"$auth_conf")
}
# A bounded Redis that refuses writes when full (noeviction: evicting would silently drop job
# records and queue entries); the API answers 503 store-full and the retention sweep frees.
REDIS_MAXMEMORY="${REDIS_MAXMEMORY:-1gb}"
if is_running redis && redis_ready; then
  cli_as "$REDIS_PASSWORD" config set maxmemory "$REDIS_MAXMEMORY" >/dev/null
  cli_as "$REDIS_PASSWORD" config set maxmemory-policy noeviction >/dev/null
  if [ "$(ping_as "")" = PONG ]; then
    log "redis on :$REDIS_PORT answers without a password: requiring one from now on"
    write_auth_conf  # for its next start
    printf 'CONFIG SET requirepass %s\n' "$REDIS_PASSWORD" | cli_as "" >/dev/null
    [ "$(ping_as "")" != PONG ] || { log "could not set the Redis password"; exit 1; }
  fi
  exit 0
fi
stop_component redis 5
# A stale server on our port from a killed run answers PING but has no pid file: shut it down.
for pw in "$REDIS_PASSWORD" ""; do cli_as "$pw" shutdown nosave >/dev/null 2>&1 || true; done
write_auth_conf
# hash-max-listpack-value 1024: a job record (its spec is ~350 bytes of JSON) stays a compact
# listpack instead of a hashtable: ~1 KiB less per queued job (benchmarks/RESULTS.md, figure 4).
start_component redis redis-server "$auth_conf" --port "$REDIS_PORT" --bind 127.0.0.1 \
  --dir "$TRAINQ_LOCAL/redis" --appendonly yes --appendfsync everysec --save '' \
  --hash-max-listpack-value 1024 --databases 64 --daemonize no --protected-mode yes \
  --maxmemory "$REDIS_MAXMEMORY" --maxmemory-policy noeviction
wait_for "redis on :$REDIS_PORT" 30 redis_ready
