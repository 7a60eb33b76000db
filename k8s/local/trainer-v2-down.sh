#!/usr/bin/env bash
# Stops what trainer-v2-up.sh started, its webhook registrations first (they fail closed: left
# behind they would refuse every TrainJob and JobSet write). CRDs and the runtime are kept.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=env.sh
source "$HERE/env.sh"
# shellcheck source=versions.env
source "$HERE/versions.env"
# shellcheck source=lib.sh
source "$HERE/lib.sh"

if kubectl get --raw /readyz >/dev/null 2>&1; then
  kubectl delete mutatingwebhookconfiguration trainq-trainer-v2 --ignore-not-found >/dev/null
  kubectl delete validatingwebhookconfiguration trainq-trainer-v2 --ignore-not-found >/dev/null
fi
stop_component trainer-controller 10
stop_component jobset-controller 10
log "Trainer v2 stopped"
