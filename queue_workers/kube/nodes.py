"""Which of the apiserver's nodes count toward cluster capacity for admission, and what
admission needs of each (pure: `schedulable`, `compact`, `usable`, `with_usage`), plus
`refresh`: one list of the nodes and of the bound pods, cached for admission, which a worker
runs when the cached picture is stale. The watcher keeps the cache current between refreshes
(`queue_workers.watcher.nodes`); what the pods on a node request: `queue_workers.kube.pods`.

A node counts when it is Ready and not cordoned; which of them a team may use (its node
selector, the taints it tolerates) is decided per team by `wrapper.admission.pools_for`.
"""

from queue_workers.kube.client import Kube
from queue_workers.kube.pods import USAGE_FIELDS, ledger_of
from queue_workers.kube.pytorchjob import GPU_RESOURCE
from wrapper.admission import Res
from wrapper.admission.store import AdmissionStore
from wrapper.validation.k8s_names import quantity


def schedulable(node: dict) -> bool:
    """Ready and not cordoned (taints are matched per team, against its tolerations)."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    if spec.get("unschedulable"):
        return False
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return bool(ready) and ready[0].get("status") == "True"


def compact(node: dict) -> dict:
    """What admission needs of a node: name, labels, taints, allocatable (pods: pod slots)."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    alloc = (node.get("status") or {}).get("allocatable") or {}
    res = Res.parse(alloc.get("cpu", "0"), alloc.get("memory", "0"),
                    int(alloc.get(GPU_RESOURCE, "0") or 0))  # fmt: skip
    taints = [{k: t[k] for k in ("key", "value", "effect") if t.get(k) is not None}
              for t in spec.get("taints") or []]  # fmt: skip
    return {"name": meta.get("name"), "labels": meta.get("labels") or {}, "taints": taints,
            "cpu": res.cpu, "memory": res.memory, "gpu": res.gpu,
            "pods": int(quantity(str(alloc.get("pods") or "0")))}  # fmt: skip


def usable(nodes: list[dict]) -> list[dict]:
    return [compact(n) for n in nodes if schedulable(n)]


def with_usage(nodes: list[dict], used: dict[str, dict[str, int]]) -> list[dict]:
    """Compacted nodes, each with "used": what the counted pods bound to it request."""
    zero = dict.fromkeys(USAGE_FIELDS, 0)
    return [{**n, "used": dict(used.get(n["name"], zero))} for n in nodes]


def refresh(kube: Kube, admissions: AdmissionStore) -> None:
    """One list of the nodes and of the bound pods, cached in Redis."""
    nodes, _ = kube.list_nodes()
    pods, _ = kube.list_pods()
    ledger = ledger_of(pods, admissions.config.instance)
    admissions.write_nodes(with_usage(usable(nodes), ledger.used), ledger.bound)
