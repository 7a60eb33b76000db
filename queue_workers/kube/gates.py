"""Placement gates (pure): each replica on the very node admission counted it on.

A PyTorchJob's Workers share one pod template, so a template can pin them only to their nodes
as a set (`pytorchjob.pins`), and within that set the scheduler may stack them otherwise than
admission counted: two Workers on the node counted for one, taking room counted for another
admitted job, whose replica then waits (a half-placed gang). So a pinned replica's pod is
created held by a scheduling gate (`GATE`, in the template), and the watcher
(`queue_workers.watcher.gates`) lifts it as it narrows the pod's node affinity to the one node
counted for that replica (by its type and index), as Kueue's topology-aware scheduling does
with its own gate. Kubernetes allows exactly this on a gated pod: requirements added to each
existing node selector term (they are ORed; within a term, ANDed), gates removed.
"""

GATE = "trainq.dev/placement"
REPLICA_TYPE = "training.kubeflow.org/replica-type"  # master | worker (the operator's labels)
REPLICA_INDEX = "training.kubeflow.org/replica-index"
_TERMS = "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution" \
    "/nodeSelectorTerms"  # fmt: skip


def gate_at(pod: dict) -> int | None:
    """Where trainq's gate is in the pod's scheduling gates (None: not gated by trainq)."""
    gates = (pod.get("spec") or {}).get("schedulingGates") or []
    return next((i for i, g in enumerate(gates) if g.get("name") == GATE), None)


def counted_node(pod: dict, counted: list[str]) -> str | None:
    """The node admission counted this replica on (`counted`: the Master's node, then each
    Worker's by index, as `pytorchjob.pins` reads it); None when the pod does not say which
    replica it is or the list has no node for it."""
    labels = (pod.get("metadata") or {}).get("labels") or {}
    kind, index = labels.get(REPLICA_TYPE), labels.get(REPLICA_INDEX)
    if kind not in ("master", "worker") or index is None or not str(index).isdigit():
        return None
    at = 0 if kind == "master" else 1 + int(index)
    return counted[at] if at < len(counted) else None


def lift(pod: dict, node: str | None) -> list[dict]:
    """The JSON patch that lifts trainq's gate, first narrowing every node selector term of the
    pod's required node affinity to `node` (None: lift it as the template pinned it). A test
    op guards the gate's index, so a patch computed from a stale read is refused, not
    misapplied."""
    at = gate_at(pod)
    if at is None:
        return []
    ops: list[dict] = [{"op": "test", "path": f"/spec/schedulingGates/{at}/name", "value": GATE},
                       {"op": "remove", "path": f"/spec/schedulingGates/{at}"}]  # fmt: skip
    if node is None:
        return ops
    required = (((pod["spec"].get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})  # fmt: skip
    only = {"key": "metadata.name", "operator": "In", "values": [node]}
    # (a gated template is always pinned: without terms, the gate alone is lifted)
    for i, term in enumerate(required.get("nodeSelectorTerms") or []):
        if "matchFields" in term:
            ops.append({"op": "add", "path": f"{_TERMS}/{i}/matchFields/-", "value": only})
        else:
            ops.append({"op": "add", "path": f"{_TERMS}/{i}/matchFields", "value": [only]})
    return ops
