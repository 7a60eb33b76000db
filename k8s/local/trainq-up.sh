#!/usr/bin/env bash
# Starts trainq on the local stack: the API under gunicorn (127.0.0.1:$TRAINQ_API_PORT), two RQ
# workers and the watcher, against $REDIS_URL and $KUBECONFIG (see env.sh). Pid files go to
# $TRAINQ_RUN, logs to $TRAINQ_LOGS. Idempotent: running components are left alone, dead ones
# (or ones whose pid file is stale) are started again. Redis must be up (make redis-up).
# TRAINQ_BACKEND=pytorchjob|trainjob (make up/demo BACKEND=...): every team's jobs run as that
# kind, from a copy of $TRAINQ_CONFIG with each team's `backend` set, written to
# $TRAINQ_LOCAL/trainq-<backend>.yaml; unset, $TRAINQ_CONFIG is used as it is. A component
# running with another configuration (another backend) is restarted with this one.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
# shellcheck source=trainq-procs.sh
source "$HERE/trainq-procs.sh"

PY="$VENV/bin/python"
export PYTHONUNBUFFERED=1 TRAINQ_RUN
export PROMETHEUS_MULTIPROC_DIR="$TRAINQ_RUN/prometheus"
# The API's metrics (per-team labels) on their own port, not the API's (docs/security.md).
export TRAINQ_METRICS_PORT="${TRAINQ_METRICS_PORT:-18090}"
cd "$TRAINQ_REPO"

if [ -n "${TRAINQ_BACKEND:-}" ]; then
  derived="$TRAINQ_LOCAL/trainq-$TRAINQ_BACKEND.yaml"
  mkdir -p "$TRAINQ_LOCAL"
  "$PY" - "$TRAINQ_CONFIG" "$TRAINQ_BACKEND" "$derived" <<'PYEOF'
import sys
from pathlib import Path

import yaml

source, backend, out = sys.argv[1], sys.argv[2], Path(sys.argv[3])
if backend not in ("pytorchjob", "trainjob"):
    sys.exit(f"TRAINQ_BACKEND={backend!r}: must be pytorchjob or trainjob")
raw = yaml.safe_load(Path(source).read_text())
for team in raw.get("teams") or []:
    team["backend"] = backend
header = f"# Written by k8s/local/trainq-up.sh: {source} with every team's backend: {backend}.\n"
tmp = out.with_suffix(".tmp")
tmp.write_text(header + yaml.safe_dump(raw, sort_keys=False))
tmp.replace(out)
PYEOF
  TRAINQ_CONFIG="$derived"
fi
export TRAINQ_CONFIG

# Fail fast, with the message naming the bad key, on a bad configuration.
TRAINQ_CONFIG="$TRAINQ_CONFIG" "$PY" -c 'from wrapper.config import load_or_exit; load_or_exit()'
# (In Python: redis-cli would need the password on its command line, and exits 0 on NOAUTH.)
"$PY" -c 'import os, redis; redis.Redis.from_url(os.environ["REDIS_URL"]).ping()' 2>/dev/null \
  || { log "Redis is not answering at \$REDIS_URL with its password (make redis-up)"; exit 1; }

api_healthy() {
  "$PY" - "$TRAINQ_API_PORT" <<'PYEOF'
import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/healthz", timeout=2)
PYEOF
}

# Processes started with another configuration (another TRAINQ_BACKEND) give way to this one.
for name in "${TRAINQ_COMPONENTS[@]}"; do
  if trainq_running "$name"; then
    running_config="$(component_config "$name")"
    if [ "$running_config" != "$TRAINQ_CONFIG" ]; then
      log "$name runs with ${running_config:-an unknown config}; restarting it with $TRAINQ_CONFIG"
      stop_trainq "$name"
    fi
  fi
done

start() {
  local name="$1"; shift
  if trainq_running "$name"; then
    log "$name already running (pid $(component_pid "$name"))"
    return 0
  fi
  # A stale pid file, or a process of ours whose pid file was lost: clear it out first.
  stop_trainq "$name"
  TRAINQ_COMPONENT="$name" start_component "$name" "$@"
}

if ! trainq_running api; then
  stop_trainq api
  if api_healthy 2>/dev/null; then
    log "port $TRAINQ_API_PORT already serves something else; set TRAINQ_API_PORT"; exit 1
  fi
  rm -rf "$PROMETHEUS_MULTIPROC_DIR"; mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
fi
start api "$PY" -m gunicorn -c wrapper/gunicorn.conf.py wrapper.wsgi:app
# Workers and the watcher serve their own metrics, each on its port, from the process itself:
# without PROMETHEUS_MULTIPROC_DIR (that directory is the API's, summed by its master).
own_metrics() { echo env -u PROMETHEUS_MULTIPROC_DIR "TRAINQ_METRICS_PORT=$1"; }
WORKER_METRICS_PORTS=("${TRAINQ_WORKER1_METRICS_PORT:-18091}" "${TRAINQ_WORKER2_METRICS_PORT:-18092}")
WATCHER_METRICS_PORT="${TRAINQ_WATCHER_METRICS_PORT:-18093}"
# shellcheck disable=SC2046
start worker-1 $(own_metrics "${WORKER_METRICS_PORTS[0]}") "$PY" -m queue_workers --name "trainq-local-worker-1"
# shellcheck disable=SC2046
start worker-2 $(own_metrics "${WORKER_METRICS_PORTS[1]}") "$PY" -m queue_workers --name "trainq-local-worker-2"
# (exit 3: it lost its Lease; it comes back as a candidate, as a pod would)
# shellcheck disable=SC2046
start watcher $(own_metrics "$WATCHER_METRICS_PORT") "$HERE/respawn.sh" 3 "$PY" -m queue_workers.watcher

if ! wait_for "trainq API on 127.0.0.1:$TRAINQ_API_PORT" 30 api_healthy; then
  tail -n 20 "$TRAINQ_LOGS/api.log" >&2 || true
  exit 1
fi
sleep 1
for name in "${TRAINQ_COMPONENTS[@]}"; do
  if ! trainq_running "$name"; then
    log "$name exited at start; last lines of $TRAINQ_LOGS/$name.log:"
    tail -n 20 "$TRAINQ_LOGS/$name.log" >&2 || true
    exit 1
  fi
done
log "trainq is up: http://127.0.0.1:$TRAINQ_API_PORT (logs in $TRAINQ_LOGS; config $TRAINQ_CONFIG)"
log "metrics: http://127.0.0.1:$TRAINQ_METRICS_PORT/metrics (API), :${WORKER_METRICS_PORTS[0]} and :${WORKER_METRICS_PORTS[1]} (workers), :$WATCHER_METRICS_PORT (watcher: team gauges)"
