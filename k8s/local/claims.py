"""`make cluster-up`: the checkpoint claims the local configuration names (`teams[].checkpoints`),
so the scheduler can place pods that mount them. Each claim is pre-bound to a hostPath
PersistentVolume under .local/volumes/<namespace>/<claim>/ (storage class `trainq-local`, no
provisioner), created in its team's namespace (made the way dispatch makes it when missing).
Idempotent; the data is kept across cluster restarts (reclaim policy Retain).

Every node agent on this host sees the same directory, so the volume has no node affinity.

    PYTHONPATH=. .venv/bin/python k8s/local/claims.py   # KUBECONFIG, TRAINQ_CONFIG, TRAINQ_LOCAL
"""

import os
import sys
import time
from pathlib import Path

from kubernetes.client.rest import ApiException

from queue_workers.kube.client import Kube
from wrapper.config import load_config

REPO = Path(__file__).resolve().parents[2]
STORAGE_CLASS = "trainq-local"


def volume_name(namespace: str, claim: str) -> str:
    return f"{namespace}-{claim}"


def volume(namespace: str, claim: str, directory: Path) -> dict:
    return {
        "metadata": {"name": volume_name(namespace, claim), "labels": {"trainq.dev/local": "true"}},
        "spec": {
            "storageClassName": STORAGE_CLASS,
            "capacity": {"storage": "10Gi"},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": namespace, "name": claim},
            "hostPath": {"path": str(directory), "type": "DirectoryOrCreate"},
        },
    }


def claim_body(namespace: str, claim: str) -> dict:
    return {
        "metadata": {"name": claim, "namespace": namespace},
        "spec": {
            "storageClassName": STORAGE_CLASS,
            "volumeName": volume_name(namespace, claim),
            "accessModes": ["ReadWriteMany"],
            "resources": {"requests": {"storage": "10Gi"}},
        },
    }


def ensure(kube: Kube, namespace: str, claim: str, directory: Path) -> None:
    core = kube.core
    directory.mkdir(parents=True, exist_ok=True)
    kube.ensure_namespace(namespace)
    name = volume_name(namespace, claim)
    try:
        pv = core.read_persistent_volume(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
        pv = core.create_persistent_volume(volume(namespace, claim, directory))
    if pv.status and pv.status.phase == "Released":
        # The claim was deleted (with its namespace, say) and is made again: let the volume,
        # and the checkpoints on it, bind to the new one.
        release = {"claimRef": {"uid": None, "resourceVersion": None}}
        core.patch_persistent_volume(name, {"spec": release})
    try:
        core.create_namespaced_persistent_volume_claim(namespace, claim_body(namespace, claim))
    except ApiException as exc:
        if exc.status != 409:
            raise
    deadline = time.monotonic() + 60
    while core.read_namespaced_persistent_volume_claim(claim, namespace).status.phase != "Bound":
        if time.monotonic() > deadline:
            sys.exit(f"claim {namespace}/{claim} not bound to volume {name} after 60s")
        time.sleep(0.5)
    print(f"claim {namespace}/{claim}: bound to {name} ({directory})", file=sys.stderr)


def main() -> None:
    config = load_config(os.environ.get("TRAINQ_CONFIG", REPO / "k8s/local/trainq.yaml"))
    local = Path(os.environ.get("TRAINQ_LOCAL", REPO / ".local"))
    kube = Kube(os.environ.get("KUBECONFIG", str(local / "kubeconfig")))
    kube.root_namespaces = {t.namespace for t in config.teams if t.allow_root}
    for team in config.teams:
        if team.checkpoints:
            claim = team.checkpoints.claim
            ensure(kube, team.namespace, claim, local / "volumes" / team.namespace / claim)


if __name__ == "__main__":
    main()
