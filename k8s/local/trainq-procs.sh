# trainq's own processes for the local stack (sourced by trainq-up.sh / trainq-down.sh).
# Each process is started with TRAINQ_COMPONENT=<name> and this stack's TRAINQ_RUN in its
# environment, so it can be recognised even when its pid file is stale (pid reused by another
# process) or lost (a killed run): /proc/<pid>/environ says whether a pid is really ours.

TRAINQ_COMPONENTS=(api worker-1 worker-2 watcher)

# component_pids NAME: pids of live processes started as NAME for this stack.
# (Pure bash, no `producer | grep -q`: under pipefail grep's early exit fails the pipeline.)
component_pids() {
  local name="$1" env_file pid vars joined IFS=$'\n'
  for env_file in /proc/[0-9]*/environ; do
    pid="${env_file#/proc/}"; pid="${pid%/environ}"
    { mapfile -d '' -t vars <"$env_file"; } 2>/dev/null || continue
    joined=$'\n'"${vars[*]}"$'\n'
    if [[ $joined == *$'\n'"TRAINQ_COMPONENT=$name"$'\n'* &&
          $joined == *$'\n'"TRAINQ_RUN=$TRAINQ_RUN"$'\n'* ]]; then
      echo "$pid"
    fi
  done
}

# trainq_running NAME: the pid file names a live process that is really NAME of this stack.
trainq_running() {
  local name="$1" pid
  pid="$(component_pid "$name")"
  local ours
  [ -n "$pid" ] && pid_alive "$pid" || return 1
  ours=$'\n'"$(component_pids "$name")"$'\n'
  [[ $ours == *$'\n'"$pid"$'\n'* ]]
}

# stop_trainq NAME: stop it via its pid file (process group), then any leftover NAME process
# of this stack whose pid file was lost.
stop_trainq() {
  local name="$1" pid
  if trainq_running "$name"; then
    stop_component "$name" 20
  fi
  rm -f "$TRAINQ_RUN/$name.pid"
  for pid in $(component_pids "$name"); do
    log "stopping leftover $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
  done
  local i
  for i in $(seq 100); do
    [ -z "$(component_pids "$name")" ] && return 0
    sleep 0.2
  done
  for pid in $(component_pids "$name"); do kill -KILL "$pid" 2>/dev/null || true; done
}

# component_config NAME: the TRAINQ_CONFIG that NAME's running process was started with.
component_config() {
  local pid vars var
  pid="$(component_pid "$1")"
  { mapfile -d '' -t vars <"/proc/$pid/environ"; } 2>/dev/null || return 0
  for var in "${vars[@]}"; do
    if [[ $var == TRAINQ_CONFIG=* ]]; then echo "${var#TRAINQ_CONFIG=}"; fi
  done
}
