#!/usr/bin/env bash
# Adds Kubeflow Trainer v2 (TrainJob) to the running local control plane: JobSet's controller
# and the trainer's controller manager as two more processes (pid files in $TRAINQ_RUN, logs in
# $TRAINQ_LOGS), their CRDs (from the Go module cache, kept beside the binaries by build.sh),
# their admission webhooks served on 127.0.0.1 with a serving cert signed by the cluster's own
# CA (registered by URL, so no Service is needed), and the `torch-distributed`
# ClusterTrainingRuntime from the trainer module's manifests.
# cluster-up.sh runs it unless TRAINQ_TRAINER_V2=0; it may also be run on its own against a
# running cluster. Idempotent. trainer-v2-down.sh undoes it (cluster-down.sh stops it too).
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
# Off the other components' ports (k8s/local/env.sh) and trainq's own metrics (18090-18093).
JOBSET_HEALTH_PORT="${JOBSET_HEALTH_PORT:-18185}"
JOBSET_WEBHOOK_PORT="${JOBSET_WEBHOOK_PORT:-19485}"
TRAINER_HEALTH_PORT="${TRAINER_HEALTH_PORT:-18186}"
TRAINER_WEBHOOK_PORT="${TRAINER_WEBHOOK_PORT:-19486}"
TV2="$DATA/trainer-v2"

[ -f "$PKI/ca.key" ] || { log "no cluster PKI in $PKI: run cluster-up.sh first"; exit 1; }
kubectl get --raw /readyz >/dev/null 2>&1 || { log "apiserver not ready: run cluster-up.sh first"; exit 1; }

t0=$(date +%s)
"$HERE/build.sh" jobset trainer
BIN_JOBSET="$TRAINQ_CACHE/bin/jobset-$JOBSET_VERSION"
BIN_TRAINER="$TRAINQ_CACHE/bin/trainer-$TRAINER_VERSION"

if all_running jobset-controller trainer-controller \
    && curl -fsS "http://127.0.0.1:$TRAINER_HEALTH_PORT/readyz" >/dev/null 2>&1; then
  log "Trainer v2 already running"
  exit 0
fi
stop_component trainer-controller 10
stop_component jobset-controller 10
for port in "$JOBSET_HEALTH_PORT" "$JOBSET_WEBHOOK_PORT" "$TRAINER_HEALTH_PORT" "$TRAINER_WEBHOOK_PORT"; do
  reclaim_port "$port"
done

# --- CRDs (server-side: the runtime CRDs are too large for the last-applied annotation).
for f in "$BIN_JOBSET"/crd/*.yaml "$BIN_TRAINER"/crd/*.yaml; do
  kubectl apply --server-side --force-conflicts -f "$f" >/dev/null
done
for crd in jobsets.jobset.x-k8s.io trainjobs.trainer.kubeflow.org \
           clustertrainingruntimes.trainer.kubeflow.org trainingruntimes.trainer.kubeflow.org; do
  wait_for "CRD $crd established" 60 crd_established "$crd"
done

# --- webhook serving cert: signed by the cluster CA, for 127.0.0.1. Both managers read
# tls.crt/tls.key from a directory: JobSet from webhook.certDir, the trainer (which has no such
# setting) from controller-runtime's default, $TMPDIR/k8s-webhook-server/serving-certs.
CERTS="$TV2/tmp/k8s-webhook-server/serving-certs"
mkdir -p "$CERTS"
if [ ! -f "$CERTS/tls.crt" ] || ! openssl verify -CAfile "$PKI/ca.crt" "$CERTS/tls.crt" >/dev/null 2>&1; then
  (
    cd "$CERTS"
    openssl req -newkey rsa:2048 -nodes -subj /CN=trainq-trainer-v2-webhooks \
      -keyout tls.key -out tls.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >tls.ext
    openssl x509 -req -in tls.csr -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
      -days 3650 -extfile tls.ext -out tls.crt 2>/dev/null
    rm -f tls.csr tls.ext
  )
fi

cat >"$TV2/jobset-config.yaml" <<EOF
apiVersion: config.jobset.x-k8s.io/v1alpha1
kind: Configuration
leaderElection: {leaderElect: false}
internalCertManagement: {enable: false}
webhook: {port: $JOBSET_WEBHOOK_PORT, host: 127.0.0.1, certDir: $CERTS}
health: {healthProbeBindAddress: "127.0.0.1:$JOBSET_HEALTH_PORT"}
metrics: {bindAddress: "0"}
clientConnection: {qps: 200, burst: 400}
EOF
cat >"$TV2/trainer-config.yaml" <<EOF
apiVersion: config.trainer.kubeflow.org/v1alpha1
kind: Configuration
leaderElection: {leaderElect: false}
certManagement: {enable: false}
webhook: {port: $TRAINER_WEBHOOK_PORT, host: 127.0.0.1}
health: {healthProbeBindAddress: "127.0.0.1:$TRAINER_HEALTH_PORT"}
metrics: {bindAddress: "0", secureServing: false}
clientConnection: {qps: 200, burst: 400}
EOF

start_component jobset-controller "$BIN_JOBSET/jobset" --kubeconfig="$KUBECONFIG" \
  --config="$TV2/jobset-config.yaml" --metrics-bind-address=0
TMPDIR="$TV2/tmp" start_component trainer-controller "$BIN_TRAINER/trainer-controller-manager" \
  --kubeconfig="$KUBECONFIG" --config="$TV2/trainer-config.yaml"
wait_for "JobSet controller" 120 curl -fsS "http://127.0.0.1:$JOBSET_HEALTH_PORT/readyz"
wait_for "Trainer v2 controller manager" 120 curl -fsS "http://127.0.0.1:$TRAINER_HEALTH_PORT/readyz"

# --- admission webhooks, by URL (upstream's manifests name a Service instead). JobSet's pod
# webhooks (exclusive placement only, unused by the torch runtimes) are not registered.
CA_BUNDLE="$(base64 -w0 <"$PKI/ca.crt")"
hook() {  # hook NAME PORT PATH GROUP VERSION RESOURCE OPERATIONS
  cat <<EOF
- name: $1
  admissionReviewVersions: [v1]
  sideEffects: None
  failurePolicy: Fail
  timeoutSeconds: 10
  clientConfig: {url: "https://127.0.0.1:$2$3", caBundle: "$CA_BUNDLE"}
  rules: [{apiGroups: ["$4"], apiVersions: ["$5"], resources: ["$6"], operations: [$7]}]
EOF
}
{
  echo "apiVersion: admissionregistration.k8s.io/v1"
  echo "kind: MutatingWebhookConfiguration"
  echo "metadata: {name: trainq-trainer-v2}"
  echo "webhooks:"
  hook mjobset.kb.io "$JOBSET_WEBHOOK_PORT" /mutate-jobset-x-k8s-io-v1alpha2-jobset \
    jobset.x-k8s.io v1alpha2 jobsets CREATE
  hook defaulter.trainjob.trainer.kubeflow.org "$TRAINER_WEBHOOK_PORT" \
    /mutate-trainer-kubeflow-org-v1alpha1-trainjob trainer.kubeflow.org v1alpha1 trainjobs "CREATE, UPDATE"
  echo "---"
  echo "apiVersion: admissionregistration.k8s.io/v1"
  echo "kind: ValidatingWebhookConfiguration"
  echo "metadata: {name: trainq-trainer-v2}"
  echo "webhooks:"
  hook vjobset.kb.io "$JOBSET_WEBHOOK_PORT" /validate-jobset-x-k8s-io-v1alpha2-jobset \
    jobset.x-k8s.io v1alpha2 jobsets "CREATE, UPDATE"
  for r in clustertrainingruntime trainingruntime trainjob; do
    hook "validator.$r.trainer.kubeflow.org" "$TRAINER_WEBHOOK_PORT" \
      "/validate-trainer-kubeflow-org-v1alpha1-$r" trainer.kubeflow.org v1alpha1 "${r}s" "CREATE, UPDATE"
  done
} >"$TV2/webhooks.yaml"
kubectl apply -f "$TV2/webhooks.yaml" >/dev/null

# --- the torch-distributed ClusterTrainingRuntime (through the validating webhook just set up).
kubectl apply --server-side --force-conflicts -f "$BIN_TRAINER/runtimes/torch_distributed.yaml" >/dev/null
# and trainq's fail-fast variant (no pod retries: the suites' failing jobs end in seconds).
kubectl apply --server-side --force-conflicts -f "$HERE/trainq-torch-runtime.yaml" >/dev/null
log "Trainer v2 (JobSet $JOBSET_VERSION, trainer $TRAINER_VERSION) up in $(( $(date +%s) - t0 ))s"
