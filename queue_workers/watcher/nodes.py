"""The node list-watch that keeps admission's cluster capacity current: list the nodes, then
follow their changes, re-summing and caching the usable ones on each
(`AdmissionStore.write_nodes`, which wakes a worker when capacity changed); the watch ends
every WATCH_SECONDS and the next round lists again. Which nodes count, and the one-off
refresh a worker does when the cache is stale: `queue_workers.kube.nodes`."""

import logging
import threading

from queue_workers.kube.client import Kube
from queue_workers.kube.nodes import usable
from queue_workers.watcher.loops import keep_following
from wrapper.admission.store import AdmissionStore

log = logging.getLogger(__name__)


class NodeWatch:
    def __init__(self, kube: Kube, admissions: AdmissionStore, stop: threading.Event):
        self.kube, self.admissions, self.stop = kube, admissions, stop

    def follow(self) -> None:
        """List, then follow node changes (re-summing on each) until the watch ends."""
        items, resource_version = self.kube.list_nodes()
        nodes = {n["metadata"]["name"]: n for n in items}
        self.admissions.write_nodes(usable(list(nodes.values())))
        for kind, obj in self.kube.node_events(resource_version, self.stop):
            name = (obj.get("metadata") or {}).get("name")
            if kind == "DELETED":
                nodes.pop(name, None)
            elif kind in ("ADDED", "MODIFIED"):
                nodes[name] = obj
            else:
                continue
            self.admissions.write_nodes(usable(list(nodes.values())))

    def run(self) -> None:
        keep_following(self.stop, self.follow, "node watch", log)
