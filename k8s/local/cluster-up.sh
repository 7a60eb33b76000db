#!/usr/bin/env bash
# Starts the local Kubernetes control plane as plain processes: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok (fake nodes) and the Kubeflow training
# operator (PyTorchJob only). Idempotent: a second call while everything runs is a no-op;
# a half-dead cluster (e.g. after a killed run) is torn down and started afresh.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=versions.env
source "$HERE/versions.env"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

DATA="${TRAINQ_CLUSTER_DATA:-$TRAINQ_LOCAL/cluster}"
PKI="$DATA/pki"
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok training-operator nodeagent)

# The checkpoint claims of the local config (k8s/local/claims.py): hostPath volumes under
# $TRAINQ_LOCAL/volumes, pre-bound; also on an already running cluster (the config may be newer).
ensure_claims() {
  (cd "$TRAINQ_REPO" && PYTHONPATH="$TRAINQ_REPO" "$VENV/bin/python" "$HERE/claims.py")
}

# What the node agent runs: a running agent whose code differs (an older checkout) still runs
# pods the old way, so cluster-up says so rather than killing the pods it runs.
nodeagent_code() { cat "$HERE"/nodeagent/*.py | sha256sum | cut -d' ' -f1; }

if all_running "${COMPONENTS[@]}" && kubectl get --raw /readyz >/dev/null 2>&1; then
  if [ "$(cat "$TRAINQ_RUN/nodeagent.code" 2>/dev/null)" != "$(nodeagent_code)" ]; then
    log "warning: the running node agent's code is not k8s/local/nodeagent's; to restart it:" \
        "make cluster-down cluster-up (stops the pods it runs)"
  fi
  ensure_claims
  log "control plane already running (KUBECONFIG=$KUBECONFIG)"
  # Kubeflow Trainer v2 (TrainJob; JobSet), the second backend: two more controllers, about
  # 2 s once built (TRAINQ_TRAINER_V2=0 leaves them out).
  if [ "${TRAINQ_TRAINER_V2:-1}" = 1 ]; then "$HERE/trainer-v2-up.sh"; fi
  exit 0
fi
if any_running "${COMPONENTS[@]}"; then
  log "control plane partly running: restarting it"
  "$HERE/cluster-down.sh"
fi

"$HERE/build.sh" etcd k8s kwok operator
BIN_K8S="$TRAINQ_CACHE/bin/k8s-$K8S_VERSION"
BIN_ETCD="$TRAINQ_CACHE/bin/etcd-$ETCD_VERSION"
BIN_KWOK="$TRAINQ_CACHE/bin/kwok-$KWOK_VERSION"
BIN_OP="$TRAINQ_CACHE/bin/operator-$TRAINING_OPERATOR_VERSION"

t0=$(date +%s)
mkdir -p "$DATA" "$PKI" "$TRAINQ_LOGS" "$TRAINQ_RUN"
for port in "$ETCD_PORT" "$ETCD_PEER_PORT" "$APISERVER_PORT" "$KCM_PORT" "$SCHEDULER_PORT" \
            "$KWOK_PORT" "$OPERATOR_HEALTH_PORT" "$OPERATOR_WEBHOOK_PORT" "$NODEAGENT_PORT"; do
  reclaim_port "$port"
done

# --- PKI: one CA signs the serving and admin client certs; a separate key signs SA tokens.
if [ ! -f "$PKI/admin.crt" ]; then
  log "generating PKI in $PKI"
  (
    cd "$PKI"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=trainq-local-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj /CN=kube-apiserver \
      -keyout apiserver.key -out apiserver.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default.svc,IP:10.96.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' >apiserver.ext
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile apiserver.ext -out apiserver.crt 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/O=system:masters/CN=trainq-admin" \
      -keyout admin.key -out admin.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >admin.ext
    openssl x509 -req -in admin.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 \
      -extfile admin.ext -out admin.crt 2>/dev/null
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
    rm -f ./*.csr ./*.ext
  )
fi

SERVER="https://127.0.0.1:$APISERVER_PORT"
mkdir -p "$(dirname "$KUBECONFIG")"
cat >"$KUBECONFIG.tmp" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: trainq-local
  cluster:
    server: $SERVER
    certificate-authority: $PKI/ca.crt
users:
- name: trainq-admin
  user:
    client-certificate: $PKI/admin.crt
    client-key: $PKI/admin.key
contexts:
- name: trainq-local
  context: {cluster: trainq-local, user: trainq-admin}
current-context: trainq-local
EOF
mv "$KUBECONFIG.tmp" "$KUBECONFIG"

# --- etcd (fsync off: this is a disposable test bed, and it makes the apiserver much faster).
start_component etcd "$BIN_ETCD/etcd" --name=trainq-local --data-dir="$DATA/etcd" \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="trainq-local=http://127.0.0.1:$ETCD_PEER_PORT" \
  --unsafe-no-fsync=true --quota-backend-bytes=4294967296 --auto-compaction-retention=1 \
  --listen-metrics-urls=""
wait_for "etcd" 60 curl -fsS "http://127.0.0.1:$ETCD_PORT/health"

# --- kube-apiserver
start_component kube-apiserver "$BIN_K8S/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" --etcd-prefix=/registry \
  --bind-address=127.0.0.1 --advertise-address=127.0.0.1 --secure-port="$APISERVER_PORT" \
  --cert-dir="$PKI" --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
  --client-ca-file="$PKI/ca.crt" \
  --service-account-issuer="$SERVER" --service-account-key-file="$PKI/sa.pub" \
  --service-account-signing-key-file="$PKI/sa.key" \
  --service-cluster-ip-range=10.96.0.0/16 --authorization-mode=Node,RBAC --allow-privileged=true \
  --enable-priority-and-fairness=false --max-requests-inflight=1000 --max-mutating-requests-inflight=500 \
  --endpoint-reconciler-type=none
wait_for "kube-apiserver /readyz" 120 kubectl get --raw /readyz

# --- controllers (GC, namespaces, service accounts, node lifecycle) and the scheduler.
start_component kube-controller-manager "$BIN_K8S/kube-controller-manager" \
  --kubeconfig="$KUBECONFIG" --leader-elect=false --bind-address=127.0.0.1 --secure-port="$KCM_PORT" \
  --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
  --use-service-account-credentials=false --controllers='*,-nodeipam,-bootstrapsigner,-tokencleaner' \
  --kube-api-qps=500 --kube-api-burst=1000 --concurrent-gc-syncs=20 \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics
start_component kube-scheduler "$BIN_K8S/kube-scheduler" \
  --kubeconfig="$KUBECONFIG" --leader-elect=false --bind-address=127.0.0.1 --secure-port="$SCHEDULER_PORT" \
  --kube-api-qps=500 --kube-api-burst=1000 \
  --authorization-always-allow-paths=/healthz,/readyz,/livez,/metrics
wait_for "kube-controller-manager" 60 curl -fsSk "https://127.0.0.1:$KCM_PORT/healthz"
wait_for "kube-scheduler" 60 curl -fsSk "https://127.0.0.1:$SCHEDULER_PORT/healthz"

# --- kwok: manages only nodes annotated kwok.x-k8s.io/node=fake, so a real node agent can join.
start_component kwok "$BIN_KWOK/kwok" --kubeconfig="$KUBECONFIG" --config="$HERE/kwok-stages.yaml" \
  --manage-all-nodes=false --manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake \
  --cidr=10.244.0.0/16 --node-ip=127.0.0.1 --node-lease-duration-seconds=40 \
  --server-address="127.0.0.1:$KWOK_PORT"

# --- fake nodes
nodes_yaml="$DATA/nodes.yaml"
: >"$nodes_yaml"
for i in $(seq 0 $((FAKE_NODES - 1))); do
  cat >>"$nodes_yaml" <<EOF
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations: {kwok.x-k8s.io/node: fake, node.alpha.kubernetes.io/ttl: "0"}
  labels:
    type: kwok
    kubernetes.io/arch: amd64
    kubernetes.io/os: linux
    kubernetes.io/hostname: kwok-node-$i
    nvidia.com/gpu.present: "true"
status:
  capacity: {cpu: "${FAKE_NODE_CPU:-32}", memory: "${FAKE_NODE_MEMORY:-256Gi}", nvidia.com/gpu: "${FAKE_NODE_GPU:-8}", pods: "110"}
  allocatable: {cpu: "${FAKE_NODE_CPU:-32}", memory: "${FAKE_NODE_MEMORY:-256Gi}", nvidia.com/gpu: "${FAKE_NODE_GPU:-8}", pods: "110"}
EOF
done
kubectl apply -f "$nodes_yaml" >/dev/null
wait_for "$FAKE_NODES nodes Ready" 60 nodes_ready "$FAKE_NODES"

# --- Kubeflow training operator: CRD, webhook-cert secret (its cert rotator refuses to start
# without one), and serving certs at the path its webhook server reads.
kubectl apply --server-side --force-conflicts -f "$BIN_OP/kubeflow.org_pytorchjobs.yaml" >/dev/null
wait_for "PyTorchJob CRD established" 60 crd_established pytorchjobs.kubeflow.org
kubectl create namespace kubeflow --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n kubeflow create secret generic training-operator-webhook-cert --dry-run=client -o yaml \
  | kubectl apply -f - >/dev/null
WEBHOOK_CERTS=/tmp/k8s-webhook-server/serving-certs
mkdir -p "$WEBHOOK_CERTS"
if [ ! -f "$WEBHOOK_CERTS/tls.crt" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj /CN=training-operator.kubeflow.svc \
    -keyout "$WEBHOOK_CERTS/tls.key" -out "$WEBHOOK_CERTS/tls.crt" 2>/dev/null
fi
MY_POD_NAMESPACE=kubeflow TMPDIR=/tmp start_component training-operator "$BIN_OP/training-operator.v1" \
  --enable-scheme=pytorchjob --metrics-bind-address=0 \
  --health-probe-bind-address="127.0.0.1:$OPERATOR_HEALTH_PORT" \
  --webhook-server-port="$OPERATOR_WEBHOOK_PORT" --kube-api-qps=200 --kube-api-burst=400 \
  --controller-threads=4 \
  --pytorch-init-container-template-file="$HERE/pytorch-init-container.yaml"
wait_for "training operator reconciling PyTorchJobs" 120 \
  grep -q 'Starting workers.*pytorchjob-controller' "$TRAINQ_LOGS/training-operator.log"

# --- the local node: pods bound to it run as real processes (k8s/local/nodeagent/README.md).
start_component nodeagent env PYTHONPATH="$HERE" "$VENV/bin/python" -m nodeagent \
  --kubeconfig "$KUBECONFIG" --node-name "$NODEAGENT_NODE_NAME" --port "$NODEAGENT_PORT" \
  --state-dir "$TRAINQ_LOCAL/nodeagent"
nodeagent_code >"$TRAINQ_RUN/nodeagent.code"
wait_for "local node $NODEAGENT_NODE_NAME Ready" 60 local_node_ready
ensure_claims

log "control plane up in $(( $(date +%s) - t0 ))s; export KUBECONFIG=$KUBECONFIG"
if [ "${TRAINQ_TRAINER_V2:-1}" = 1 ]; then "$HERE/trainer-v2-up.sh"; fi
