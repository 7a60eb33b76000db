"""Node loss: replicas are pinned to the nodes admission counted them on (a required node
affinity), so when such a node is deleted, or NotReady for NOT_READY_SECONDS, the operator's
replacement pods can never start. Every SWEEP_SECONDS the watcher finds the dispatched jobs
counted on a node missing from the node cache (which holds Ready, schedulable nodes), confirms
with the apiserver that it is gone or NotReady that long (a cordoned node is neither: its jobs
keep running), suspends their PyTorchJobs and sends them back to their place in their queue
(`wrapper.jobs.preemption.requeue_node_lost`: reason NodeLost, the node named), their
reservation given back; admitted again, they resume elsewhere from their checkpoint."""

import json
import logging
import threading
import time
from datetime import datetime

from queue_workers.kube.client import Kube
from queue_workers.watcher.loops import keep_sweeping
from queue_workers.watcher.records import backend_of, location, team_namespaces
from wrapper.config import TrainqConfig
from wrapper.jobs import preemption as jobs
from wrapper.jobs.store import JobStore
from wrapper.redis import keys

log = logging.getLogger(__name__)
SWEEP_SECONDS = 2.0
NOT_READY_SECONDS = 60.0


def lost_nodes(nodes: list[dict], names: set[str], now: float,
               not_ready_s: float = NOT_READY_SECONDS) -> dict[str, str]:  # fmt: skip
    """Of `names`, those gone: node name -> why (in words). `nodes`: every node, as listed."""
    seen = {(n.get("metadata") or {}).get("name"): n for n in nodes}
    out = {}
    for name in names:
        node = seen.get(name)
        if node is None:
            out[name] = "was deleted"
            continue
        ready = [c for c in (node.get("status") or {}).get("conditions") or []
                 if c.get("type") == "Ready"]  # fmt: skip
        if ready and ready[0].get("status") != "True":
            since = ready[0].get("lastTransitionTime")
            at = datetime.fromisoformat(since.replace("Z", "+00:00")).timestamp() if since else 0
            if now - at >= not_ready_s:
                out[name] = f"has been NotReady for {now - at:.0f}s"
    return out


class NodeLossSweep:
    def __init__(self, config: TrainqConfig, store: JobStore, kube: Kube, stop: threading.Event):
        self.config, self.store, self.kube, self.stop = config, store, kube, stop
        self.namespaces = team_namespaces(config)

    def sweep(self) -> None:
        self.once()
        self.stop.wait(SWEEP_SECONDS)

    def once(self, now: float | None = None) -> list[int]:
        """One pass; the jobs sent back."""
        ids = self.store.ids_with_status(*jobs.PREEMPTIBLE)
        if not ids:
            return []
        redis = self.store.redis
        with redis.pipeline(transaction=False) as pipe:
            pipe.hkeys(keys.CACHED_NODES)
            pipe.hmget(keys.PLACEMENTS, ids)
            cached, placed = pipe.execute()
        if not cached:
            return []  # no node cache (yet): nothing to compare with
        cached = {c.decode() for c in cached}
        counted = {i: set(json.loads(p)["nodes"]) for i, p in zip(ids, placed, strict=True) if p}
        missing = set().union(*counted.values()) - cached if counted else set()
        if not missing:
            return []
        nodes, _ = self.kube.list_nodes()
        lost = lost_nodes(nodes, missing, time.time() if now is None else now)
        out = []
        for job_id, on in counted.items():
            gone = sorted(on & lost.keys())
            if not gone:
                continue
            record = self.store.get(job_id)
            if record is None:
                continue
            namespace, name = location(record, self.namespaces, self.config.instance)
            # Suspended first: a job back in its queue never keeps pods that run.
            if self.kube.set_suspended(namespace, name, True, None,
                                      backend_of(record, self.config)) and \
                    jobs.requeue_node_lost(self.store, record, gone[0], lost[gone[0]]):  # fmt: skip
                out.append(job_id)
        return out

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
