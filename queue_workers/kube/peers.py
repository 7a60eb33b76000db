"""Each job's own NetworkPolicy: its pods may reach the pods of the same job, and no other
job's. The team namespace's policy (chart `templates/teams.yaml`, `k8s/base`) denies training
pods every egress but DNS and the configured destinations; a NetworkPolicy cannot say "pods
with my label value", so the peers of each job are allowed by a policy of its own. It is owned
by the PyTorchJob or TrainJob (garbage-collected with it) and made by the watcher when it first
sees it: until then the replicas cannot reach each other (denied, never more allowed than
meant), and the rendezvous retries."""

from queue_workers.kube.pytorchjob import (
    GROUP,
    KIND,
    LABEL_INSTANCE,
    LABEL_JOB_ID,
    LABEL_MANAGED_BY,
    MANAGED_BY,
    VERSION,
)

SUFFIX = "-peers"


def policy_name(pytorchjob_name: str) -> str:
    return pytorchjob_name + SUFFIX


def peer_policy(obj: dict, instance: str, job_id: int) -> dict:
    """The NetworkPolicy that lets the pods of `obj`, a PyTorchJob or a TrainJob (job `job_id`),
    reach each other, owned by it: the owner names its own kind, since the garbage collector
    looks the owner up by apiVersion, kind and name and deletes a dependent whose owner is not
    found."""
    meta = obj["metadata"]
    owner = {"apiVersion": obj.get("apiVersion") or f"{GROUP}/{VERSION}",
             "kind": obj.get("kind") or KIND, "name": meta["name"], "uid": meta["uid"]}  # fmt: skip
    pods = {LABEL_MANAGED_BY: MANAGED_BY, LABEL_INSTANCE: instance, LABEL_JOB_ID: str(job_id)}
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": policy_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": dict(pods),
            "ownerReferences": [owner],
        },
        "spec": {
            "podSelector": {"matchLabels": dict(pods)},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": dict(pods)}}]}],
        },
    }
