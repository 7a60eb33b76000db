#!/usr/bin/env bash
# Builds the local control plane's binaries with `go` from their Go modules at the pinned
# versions in versions.env, into a cache outside the repository keyed by version:
#   $TRAINQ_CACHE/bin/<component>-<version>/
# A component whose directory already holds a .complete marker is not rebuilt.
# Usage: build.sh [component...]   (default: all; components: etcd k8s kwok operator helm)
# `kueue` (the side-by-side benchmark's Kueue, benchmarks/kueue.py) is built only when named.
# `jobset` and `trainer` (Kubeflow Trainer v2: trainer-v2-up.sh) are built only when named.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
CACHE="${TRAINQ_CACHE:-$HOME/.cache/trainq}"
export GOFLAGS="-mod=mod -buildvcs=false"
export CGO_ENABLED=0
mkdir -p "$CACHE/bin" "$CACHE/src"

log() { echo "[build $(date +%H:%M:%S)] $*" >&2; }

# wrapper_module DIR MODPATH: a fresh throw-away module that pins one upstream module.
# Each component gets its own so MVS never forces shared versions of grpc/client-go/etcd.
wrapper_module() {
  rm -rf "$1" && mkdir -p "$1" && cd "$1"
  go mod init "$2" >/dev/null 2>&1
}

build_etcd() {
  local out="$CACHE/bin/etcd-$ETCD_VERSION"
  wrapper_module "$CACHE/src/etcd-$ETCD_VERSION" trainq.local/etcdbin
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION" "go.etcd.io/etcd/etcdctl/v3@$ETCD_VERSION"
  # -o names the binary: the package's last path element is "v3".
  go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcd" go.etcd.io/etcd/server/v3
  go build -trimpath -ldflags "-s -w" -o "$out.tmp/etcdctl" go.etcd.io/etcd/etcdctl/v3
}

build_k8s() {
  local out="$CACHE/bin/k8s-$K8S_VERSION" sv="v0.${K8S_VERSION#v1.}" minor
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  wrapper_module "$CACHE/src/k8s-$K8S_VERSION" trainq.local/k8sbin
  # k8s.io/kubernetes requires its staging modules at v0.0.0 via local replaces, which do not
  # apply to dependants: point each at its published v0.N.P, generated from k/k's own go.mod.
  local gomod
  gomod="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["GoMod"])')"
  for m in $(awk '$1 ~ /^k8s\.io\// && $2=="v0.0.0" {print $1}' "$gomod" | sort -u); do
    go mod edit -replace="$m=$m@$sv"
  done
  # Mirror k/k's own godebug line: a dependency's godebug settings are ignored.
  local godebug
  godebug="$(awk '$1=="godebug" {print $2}' "$gomod")"
  [ -n "$godebug" ] && go mod edit -godebug="$godebug"
  go get "k8s.io/kubernetes@$K8S_VERSION"
  local V="k8s.io/component-base/version"
  local LDF="-s -w -X $V.gitVersion=$K8S_VERSION -X $V.gitMajor=1 -X $V.gitMinor=$minor -X $V.gitTreeState=clean"
  LDF="$LDF -X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$minor"
  mkdir -p "$out.tmp"
  go build -trimpath -ldflags "$LDF" -o "$out.tmp/" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
}

build_kwok() {
  local out="$CACHE/bin/kwok-$KWOK_VERSION"
  GOBIN="$out.tmp" go install "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
}

build_operator() {
  local out="$CACHE/bin/operator-$TRAINING_OPERATOR_VERSION"
  GOBIN="$out.tmp" go install "github.com/kubeflow/training-operator/cmd/training-operator.v1@$TRAINING_OPERATOR_VERSION"
  # The PyTorchJob CRD ships inside the module; keep a copy beside the binary.
  local dir
  dir="$(go mod download -json "github.com/kubeflow/training-operator@$TRAINING_OPERATOR_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')"
  cp "$dir/manifests/base/crds/kubeflow.org_pytorchjobs.yaml" "$out.tmp/"
}

build_helm() {
  local out="$CACHE/bin/helm-$HELM_VERSION" minor
  minor="$(echo "$K8S_VERSION" | cut -d. -f2)"
  local P="helm.sh/helm/v3"
  GOBIN="$out.tmp" go install -ldflags "-s -w -X $P/internal/version.version=$HELM_VERSION -X $P/pkg/chartutil.k8sVersionMajor=1 -X $P/pkg/chartutil.k8sVersionMinor=$minor -X $P/pkg/lint/rules.k8sVersionMajor=1 -X $P/pkg/lint/rules.k8sVersionMinor=$minor" "$P/cmd/helm@$HELM_VERSION"
}

build_kueue() {
  local out="$CACHE/bin/kueue-$KUEUE_VERSION"
  GOBIN="$out.tmp" go install -ldflags "-s -w" "sigs.k8s.io/kueue/cmd/kueue@$KUEUE_VERSION"
  # Its CRDs ship inside the module (no conversion webhook): keep a copy beside the binary.
  local dir
  dir="$(go mod download -json "sigs.k8s.io/kueue@$KUEUE_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$out.tmp/crd"
  cp "$dir"/config/components/crd/bases/*.yaml "$out.tmp/crd/"
}

# JobSet and the Kubeflow Trainer v2 controller manager (the TrainJob backend, issue 20): built
# only when named (trainer-v2-up.sh asks for them unless TRAINQ_TRAINER_V2=0). Their CRDs (and the
# trainer's ClusterTrainingRuntimes) ship inside the modules: keep copies beside the binaries.
build_jobset() {
  local out="$CACHE/bin/jobset-$JOBSET_VERSION" dir
  # Not `go install pkg@version`: that also reads the module's version list for deprecations,
  # which the proxy refuses for JobSet (403); `go get` of the exact tag in a wrapper works.
  wrapper_module "$CACHE/src/jobset-$JOBSET_VERSION" trainq.local/jobsetbin
  go get "sigs.k8s.io/jobset@$JOBSET_VERSION"
  go build -trimpath -ldflags "-s -w" -o "$out.tmp/jobset" sigs.k8s.io/jobset
  dir="$(go mod download -json "sigs.k8s.io/jobset@$JOBSET_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$out.tmp/crd"
  cp "$dir"/config/components/crd/bases/*.yaml "$out.tmp/crd/"
}

build_trainer() {
  local out="$CACHE/bin/trainer-$TRAINER_VERSION" dir
  GOBIN="$out.tmp" go install -trimpath -ldflags "-s -w" \
    "github.com/kubeflow/trainer/v2/cmd/trainer-controller-manager@$TRAINER_VERSION"
  dir="$(go mod download -json "github.com/kubeflow/trainer/v2@$TRAINER_VERSION" | python3 -c 'import json,sys;print(json.load(sys.stdin)["Dir"])')"
  mkdir -p "$out.tmp/crd" "$out.tmp/runtimes"
  cp "$dir"/manifests/base/crds/trainer.kubeflow.org_*.yaml "$out.tmp/crd/"
  cp "$dir"/manifests/base/runtimes/torch_distributed.yaml "$out.tmp/runtimes/"
}

dir_of() {
  case "$1" in
    etcd) echo "$CACHE/bin/etcd-$ETCD_VERSION" ;;
    k8s) echo "$CACHE/bin/k8s-$K8S_VERSION" ;;
    kwok) echo "$CACHE/bin/kwok-$KWOK_VERSION" ;;
    operator) echo "$CACHE/bin/operator-$TRAINING_OPERATOR_VERSION" ;;
    helm) echo "$CACHE/bin/helm-$HELM_VERSION" ;;
    jobset) echo "$CACHE/bin/jobset-$JOBSET_VERSION" ;;
    trainer) echo "$CACHE/bin/trainer-$TRAINER_VERSION" ;;
    kueue) echo "$CACHE/bin/kueue-$KUEUE_VERSION" ;;
    *) echo "unknown component: $1" >&2; exit 2 ;;
  esac
}

components=("$@")
[ ${#components[@]} -eq 0 ] && components=(etcd kwok operator k8s helm)
for c in "${components[@]}"; do
  out="$(dir_of "$c")"
  if [ -f "$out/.complete" ]; then continue; fi
  log "building $c -> $out"
  start=$(date +%s)
  rm -rf "$out.tmp"
  ( "build_$c" )
  touch "$out.tmp/.complete"
  rm -rf "$out" && mv "$out.tmp" "$out"
  log "built $c in $(( $(date +%s) - start ))s"
done
