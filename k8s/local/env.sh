# Shared defaults for the local stack; every value can be overridden from the environment.
# Sourced by the Makefile's scripts; paths are absolute so processes can chdir freely.
_repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
export TRAINQ_REPO="${TRAINQ_REPO:-$_repo}"
export TRAINQ_LOCAL="${TRAINQ_LOCAL:-$TRAINQ_REPO/.local}"
export TRAINQ_CACHE="${TRAINQ_CACHE:-$HOME/.cache/trainq}"
export TRAINQ_LOGS="${TRAINQ_LOGS:-$TRAINQ_LOCAL/logs}"
export TRAINQ_RUN="${TRAINQ_RUN:-$TRAINQ_LOCAL/run}"           # pid files
export KUBECONFIG="${KUBECONFIG:-$TRAINQ_LOCAL/kubeconfig}"
# Control plane ports (chosen off the usual defaults so a developer's own cluster does not clash).
export ETCD_PORT="${ETCD_PORT:-12379}"
export ETCD_PEER_PORT="${ETCD_PEER_PORT:-12380}"
export APISERVER_PORT="${APISERVER_PORT:-16443}"
export KCM_PORT="${KCM_PORT:-20257}"
export SCHEDULER_PORT="${SCHEDULER_PORT:-20259}"
export KWOK_PORT="${KWOK_PORT:-20247}"
export OPERATOR_HEALTH_PORT="${OPERATOR_HEALTH_PORT:-18081}"
export OPERATOR_WEBHOOK_PORT="${OPERATOR_WEBHOOK_PORT:-19443}"
export FAKE_NODES="${FAKE_NODES:-3}"
# The local node (k8s/local/nodeagent): pods bound to it run as real processes on this host.
export NODEAGENT_NODE_NAME="${NODEAGENT_NODE_NAME:-trainq-local-node}"
export NODEAGENT_PORT="${NODEAGENT_PORT:-20250}"
# Redis and trainq itself.
export REDIS_PORT="${REDIS_PORT:-6390}"
# Redis requires a password, as in a cluster (docs/security.md). Like the development tokens,
# this default is for the loopback-bound local stack only. REDIS_URL carries it (user
# `default` named: its AUTH also passes on a Redis started before it required a password).
export REDIS_PASSWORD="${REDIS_PASSWORD:-trainq-local-redis}"
export REDIS_URL="${REDIS_URL:-redis://default:$REDIS_PASSWORD@127.0.0.1:$REDIS_PORT/0}"
export TRAINQ_API_PORT="${TRAINQ_API_PORT:-8080}"
export TRAINQ_CONFIG="${TRAINQ_CONFIG:-$TRAINQ_REPO/k8s/local/trainq.yaml}"
export VENV="${VENV:-$TRAINQ_REPO/.venv}"
