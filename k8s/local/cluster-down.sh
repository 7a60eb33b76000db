#!/usr/bin/env bash
# Stops every process cluster-up.sh started (in reverse order) and removes the cluster's
# state (etcd data, PKI, kubeconfig), so the next cluster-up starts clean. Logs are kept.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=versions.env
source "$HERE/versions.env"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

DATA="${TRAINQ_CLUSTER_DATA:-$TRAINQ_LOCAL/cluster}"
# Clients of the apiserver first (in parallel), then the apiserver, then its storage.
# The node agent gets longer: it gives each of its pods up to 10 s before SIGKILL.
stop_component nodeagent 20 &
# Kubeflow Trainer v2's controllers (trainer-v2-up.sh; not started with TRAINQ_TRAINER_V2=0).
stop_component trainer-controller 10 &
stop_component jobset-controller 10 &
for c in training-operator kwok kube-scheduler kube-controller-manager; do
  stop_component "$c" 10 &
done
wait
stop_component kube-apiserver 15
stop_component etcd 10
# Leftovers whose pid files were lost (e.g. the .local dir was wiped while they ran).
for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" \
            "$KWOK_PORT" "$OPERATOR_HEALTH_PORT" "$OPERATOR_WEBHOOK_PORT" "$NODEAGENT_PORT"; do
  reclaim_port "$port" || true
done
rm -rf "$DATA" "$KUBECONFIG"
log "control plane stopped"
