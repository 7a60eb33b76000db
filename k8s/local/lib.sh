# Process helpers shared by the local stack's scripts (sourced, not run).
# Every long-running process gets a pid file in $TRAINQ_RUN and a log in $TRAINQ_LOGS.

log() { echo "[trainq-local $(date +%H:%M:%S)] $*" >&2; }

kubectl() {
  local k="$TRAINQ_CACHE/bin/k8s-${K8S_VERSION:-}/kubectl"
  if [ -x "$k" ]; then "$k" --kubeconfig="$KUBECONFIG" "$@"; else command kubectl --kubeconfig="$KUBECONFIG" "$@"; fi
}

pid_alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }

component_pid() { cat "$TRAINQ_RUN/$1.pid" 2>/dev/null || true; }

is_running() { pid_alive "$(component_pid "$1")"; }

all_running() {
  local c
  for c in "$@"; do is_running "$c" || return 1; done
}

any_running() {
  local c
  for c in "$@"; do is_running "$c" && return 0; done
  return 1
}

# start_component NAME CMD...: runs CMD in its own session (so a killed parent does not take it
# down mid-test, and stop_component can signal the whole group), logging to $TRAINQ_LOGS/NAME.log.
start_component() {
  local name="$1"; shift
  mkdir -p "$TRAINQ_LOGS" "$TRAINQ_RUN"
  log "starting $name"
  # One log per run (the previous one kept as .prev), so readiness checks that grep a log
  # never match a line from an earlier run.
  [ -f "$TRAINQ_LOGS/$name.log" ] && mv -f "$TRAINQ_LOGS/$name.log" "$TRAINQ_LOGS/$name.log.prev"
  setsid "$@" >"$TRAINQ_LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$TRAINQ_RUN/$name.pid"
}

# stop_component NAME [GRACE_SECONDS]: SIGTERM the process group, SIGKILL after the grace period.
stop_component() {
  local name="$1" grace="${2:-10}" pid
  pid="$(component_pid "$name")"
  if pid_alive "$pid"; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local deadline=$(( $(date +%s) + grace ))
    while pid_alive "$pid" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
    if pid_alive "$pid"; then
      log "$name did not stop in ${grace}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$TRAINQ_RUN/$name.pid"
}

# reclaim_port PORT: a port held by a leftover process of ours (one whose binary lives in our
# build cache or whose command line names our .local dir, e.g. after a killed run lost its pid
# files) is freed; anything else is an error.
reclaim_port() {
  local port="$1" pids pid exe
  pids="$(ss -Hltnp "sport = :$port" 2>/dev/null | { grep -o "pid=[0-9]*" || true; } | cut -d= -f2 | sort -u)"
  [ -z "$pids" ] && return 0
  for pid in $pids; do
    exe="$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)"
    if [[ "$exe" == "$TRAINQ_CACHE"/* ]] || tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF "$TRAINQ_LOCAL/"; then
      log "port $port held by a leftover $exe (pid $pid): killing it"
      kill -KILL "$pid" 2>/dev/null || true
    else
      log "port $port is in use by pid $pid ($exe); set another port in the environment (see k8s/local/env.sh)"
      return 1
    fi
  done
  local i
  for i in $(seq 50); do
    ss -Hltn "sport = :$port" | grep -q . || return 0
    sleep 0.1
  done
  log "port $port still busy"; return 1
}

# wait_for DESCRIPTION TIMEOUT_SECONDS CMD...: polls CMD until it succeeds.
wait_for() {
  local what="$1" timeout="$2"; shift 2
  local deadline=$(( $(date +%s) + timeout ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "timed out after ${timeout}s waiting for $what; logs in $TRAINQ_LOGS"
      return 1
    fi
    sleep 0.5
  done
  log "$what: ready"
}

nodes_ready() {
  local want="$1" n
  n="$(kubectl get nodes -l type=kwok -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c True)"
  [ "$n" -ge "$want" ]
}

crd_established() {
  [ "$(kubectl get crd "$1" -o jsonpath='{.status.conditions[?(@.type=="Established")].status}')" = True ]
}

local_node_ready() {
  [ "$(kubectl get node "$NODEAGENT_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}
