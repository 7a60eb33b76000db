#!/usr/bin/env bash
# Prints each local control-plane process with its pid and resident memory, and the total.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=lib.sh
source "$HERE/lib.sh"
total=0
printf '%-26s %8s %10s\n' component pid rss_mib
for c in etcd kube-apiserver kube-controller-manager kube-scheduler kwok training-operator nodeagent; do
  pid="$(component_pid "$c")"
  if pid_alive "$pid"; then
    rss_kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
    total=$((total + rss_kib))
    printf '%-26s %8s %10d\n' "$c" "$pid" $((rss_kib / 1024))
  else
    printf '%-26s %8s %10s\n' "$c" "-" "down"
  fi
done
# Kubeflow Trainer v2's controllers, listed only when running (TRAINQ_TRAINER_V2=0: left out).
for c in jobset-controller trainer-controller; do
  pid="$(component_pid "$c")"
  if pid_alive "$pid"; then
    rss_kib="$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")"
    total=$((total + rss_kib))
    printf '%-26s %8s %10d\n' "$c" "$pid" $((rss_kib / 1024))
  fi
done
printf '%-26s %8s %10d\n' total "" $((total / 1024))
