"""Cluster capacity for admission, from the apiserver's nodes: which nodes count (pure), a
list for the periodic refresh any worker does when the cached figure is stale, and the node
watch the watcher keeps (each change re-sums and caches the allocatable at once).

A node counts when it is Ready and not cordoned; which of them a team may use (its node
selector, the taints it tolerates) is decided per team by `wrapper.admission.pools_for`.
"""

import logging
import threading

from kubernetes import watch

from queue_workers.kube.client import Kube, error_message
from queue_workers.kube.pytorchjob import GPU_RESOURCE
from wrapper.admission import Res
from wrapper.admission.store import AdmissionStore

log = logging.getLogger(__name__)
WATCH_SECONDS = 60


def schedulable(node: dict) -> bool:
    """Ready and not cordoned (taints are matched per team, against its tolerations)."""
    spec, status = node.get("spec") or {}, node.get("status") or {}
    if spec.get("unschedulable"):
        return False
    ready = [c for c in status.get("conditions") or [] if c.get("type") == "Ready"]
    return bool(ready) and ready[0].get("status") == "True"


def compact(node: dict) -> dict:
    """What admission needs of a node: name, labels, taints, allocatable."""
    meta, spec = node.get("metadata") or {}, node.get("spec") or {}
    alloc = (node.get("status") or {}).get("allocatable") or {}
    res = Res.parse(alloc.get("cpu", "0"), alloc.get("memory", "0"),
                    int(alloc.get(GPU_RESOURCE, "0") or 0))  # fmt: skip
    taints = [{k: t[k] for k in ("key", "value", "effect") if t.get(k) is not None}
              for t in spec.get("taints") or []]  # fmt: skip
    return {"name": meta.get("name"), "labels": meta.get("labels") or {}, "taints": taints,
            "cpu": res.cpu, "memory": res.memory, "gpu": res.gpu}  # fmt: skip


def usable(nodes: list[dict]) -> list[dict]:
    return [compact(n) for n in nodes if schedulable(n)]


def refresh(kube: Kube, admissions: AdmissionStore) -> None:
    """One list of the nodes, cached in Redis."""
    nodes, _ = kube.list_nodes()
    admissions.write_nodes(usable(nodes))


def watch_nodes(kube: Kube, admissions: AdmissionStore, stop: threading.Event) -> None:
    """List, then follow node changes (re-summing on each), relisting every WATCH_SECONDS."""
    backoff = 1.0
    while not stop.is_set():
        try:
            items, resource_version = kube.list_nodes()
            nodes = {n["metadata"]["name"]: n for n in items}
            admissions.write_nodes(usable(list(nodes.values())))
            stream = watch.Watch()
            for event in stream.stream(kube.core.list_node, resource_version=resource_version,
                                       timeout_seconds=WATCH_SECONDS,
                                       _request_timeout=(5, WATCH_SECONDS + 15)):  # fmt: skip
                if stop.is_set():
                    stream.stop()
                    break
                obj = event["raw_object"]
                name = (obj.get("metadata") or {}).get("name")
                if event["type"] == "DELETED":
                    nodes.pop(name, None)
                elif event["type"] in ("ADDED", "MODIFIED"):
                    nodes[name] = obj
                else:
                    continue
                admissions.write_nodes(usable(list(nodes.values())))
            backoff = 1.0
        except Exception as exc:  # noqa: BLE001 - apiserver/Redis outages: keep trying
            log.error("node watch failed (%s); retrying in %.0fs", error_message(exc), backoff)
            stop.wait(backoff)
            backoff = min(backoff * 2, 30)
