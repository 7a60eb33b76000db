"""What the pods bound to each node request, as admission counts it (pure): a pod's effective
request by Kubernetes' own rule, which pods count, the sums per node, the nodes each trainq
job's pods are bound to, and `PodLedger`, which keeps those sums from watch events without
re-summing every pod on each one.

A pod counts once the scheduler bound it (`spec.nodeName`) until it is gone or terminal: the
scheduler itself stops counting a Succeeded or Failed pod against its node, whoever made it.
"""

import math
from typing import NamedTuple

from queue_workers.kube.pytorchjob import GPU_RESOURCE, job_id_of
from wrapper.validation.k8s_names import quantity

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
# Pod-level requests (spec.resources, Kubernetes' PodLevelResources) cover these only.
POD_LEVEL_RESOURCES = ("cpu", "memory")
# What admission reads of a node's pods; "pods" is how many of them there are.
USAGE_FIELDS = ("cpu", "memory", "gpu", "pods")


class Placed(NamedTuple):
    """A counted pod, as little as the sums need: its node, its effective request (cpu in
    millicores, memory in bytes, whole gpus), and its trainq job id (this instance's pods
    only, as a string: the key it has in the cache's JSON)."""

    node: str
    cpu: int
    memory: int
    gpu: int
    job: str | None = None


def _amounts(resources: dict) -> dict[str, int]:
    """A requests (or overhead) map as admission's units; other resources are not counted."""
    out = {"cpu": 0, "memory": 0, "gpu": 0}
    if resources.get("cpu") is not None:
        out["cpu"] = math.ceil(quantity(str(resources["cpu"])) * 1000)
    if resources.get("memory") is not None:
        out["memory"] = math.ceil(quantity(str(resources["memory"])))
    if resources.get(GPU_RESOURCE) is not None:
        out["gpu"] = math.ceil(quantity(str(resources[GPU_RESOURCE])))
    return out


def _declared(owner: dict) -> dict:
    """A container's (or the pod's own) requests as written. The apiserver defaults a request
    to the limit when only a limit is set; a pod read from elsewhere may not be defaulted."""
    res = owner.get("resources") or {}
    return {**(res.get("limits") or {}), **(res.get("requests") or {})}


def _zero() -> dict[str, int]:
    return {"cpu": 0, "memory": 0, "gpu": 0}


def _add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a[k] + b[k] for k in a}


def _max(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: max(a[k], b[k]) for k in a}


def effective_request(pod: dict) -> dict[str, int]:
    """What the scheduler reserves on a node for the pod (k8s.io/component-helpers
    `PodRequests`): per resource, the larger of the containers' sum and the peak while init
    containers run (a sidecar, an init container with restartPolicy Always, keeps running
    beside whatever starts after it), pod-level requests where set, plus spec.overhead."""
    spec = pod.get("spec") or {}
    total = _zero()
    for container in spec.get("containers") or []:
        total = _add(total, _amounts(_declared(container)))
    sidecars, init_peak = _zero(), _zero()
    for container in spec.get("initContainers") or []:
        request = _amounts(_declared(container))
        if container.get("restartPolicy") == "Always":
            total = _add(total, request)
            sidecars = _add(sidecars, request)
            running = sidecars
        else:
            running = _add(request, sidecars)
        init_peak = _max(init_peak, running)
    total = _max(total, init_peak)
    pod_level = _declared(spec)
    if pod_level:
        amounts = _amounts(pod_level)
        total.update({r: amounts[r] for r in POD_LEVEL_RESOURCES if r in pod_level})
    return _add(total, _amounts(spec.get("overhead") or {}))


def counts(pod: dict) -> bool:
    """Bound to a node and not terminal: it holds its request there."""
    phase = (pod.get("status") or {}).get("phase")
    return bool((pod.get("spec") or {}).get("nodeName")) and phase not in TERMINAL_PHASES


def pod_key(pod: dict) -> str:
    meta = pod.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def placed(pod: dict, instance: str) -> Placed | None:
    """The pod as the sums count it, or None when it does not count."""
    if not counts(pod):
        return None
    job = job_id_of(pod, instance)
    r = effective_request(pod)
    return Placed(pod["spec"]["nodeName"], r["cpu"], r["memory"], r["gpu"],
                  None if job is None else str(job))  # fmt: skip


class PodLedger:
    """The counted pods and, kept in step with them, each node's usage
    {"cpu", "memory", "gpu", "pods"} and each trainq job's {node: bound pods}. Nodes and jobs
    with nothing bound are left out."""

    def __init__(self) -> None:
        self.pods: dict[str, Placed] = {}
        self.used: dict[str, dict[str, int]] = {}
        self.bound: dict[str, dict[str, int]] = {}

    def apply(self, key: str, entry: Placed | None) -> bool:
        """The pod `key` is now `entry` (None: gone or no longer counted); True if a sum moved."""
        old = self.pods.get(key)
        if old == entry:
            return False
        if old is not None:
            del self.pods[key]
            self._count(old, -1)
        if entry is not None:
            self.pods[key] = entry
            self._count(entry, 1)
        return True

    def reset(self, entries: dict[str, Placed]) -> bool:
        """Replace every pod (a relist); True if a sum moved."""
        before = (self.used, self.bound)
        self.pods, self.used, self.bound = {}, {}, {}
        for key, entry in entries.items():
            self.apply(key, entry)
        return (self.used, self.bound) != before

    def _count(self, e: Placed, sign: int) -> None:
        used = self.used.setdefault(e.node, dict.fromkeys(USAGE_FIELDS, 0))
        for field, amount in zip(USAGE_FIELDS, (e.cpu, e.memory, e.gpu, 1), strict=True):
            used[field] += sign * amount
        if used["pods"] == 0:  # every pod gone: the other sums are back to zero too
            del self.used[e.node]
        if e.job is not None:
            nodes = self.bound.setdefault(e.job, {})
            nodes[e.node] = nodes.get(e.node, 0) + sign
            if nodes[e.node] == 0:
                del nodes[e.node]
            if not nodes:
                del self.bound[e.job]


def ledger_of(pods: list[dict], instance: str) -> PodLedger:
    """The sums of a full pod list (what a relist, or a worker's one-off refresh, sees)."""
    ledger = PodLedger()
    for pod in pods:
        ledger.apply(pod_key(pod), placed(pod, instance))
    return ledger
