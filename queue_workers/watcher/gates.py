"""Lifts the placement gate of this instance's pods (`queue_workers.kube.gates`): a list-watch
of its unbound pods; each pod held by trainq's gate gets its node affinity narrowed to the node
admission counted for that replica (the job's placement in Redis) and its gate removed, in one
JSON patch. A pod whose job no longer has a placement (its reservation was given back: the job
ended or was cancelled meanwhile) is let go as its template pinned it. A patch that fails is
tried again, once, without the narrowing (a pod is never left held by trainq), and a pod the
watch sees again still gated is tried again. While no watcher leads, pinned pods wait (the
next leader lists them); the pods-ready guard covers a gang held too long."""

import logging
import threading

from queue_workers.kube.client import Kube
from queue_workers.kube.errors import error_message
from queue_workers.kube.gates import counted_node, gate_at, lift
from queue_workers.kube.pytorchjob import LABEL_INSTANCE, job_id_of
from queue_workers.watcher.loops import keep_following
from queue_workers.watcher.nodes import ListWatch
from wrapper.config import TrainqConfig
from wrapper.jobs.store import JobStore

log = logging.getLogger(__name__)
UNBOUND = "spec.nodeName="  # a gated pod is never bound


class PlacementGates:
    def __init__(self, config: TrainqConfig, store: JobStore, kube: Kube, stop: threading.Event):
        self.store, self.kube, self.stop = store, kube, stop
        self.instance = config.instance
        mine = {"field_selector": UNBOUND, "label_selector": f"{LABEL_INSTANCE}={self.instance}"}
        self.watch = ListWatch(
            "gated-pod watch", lambda: kube.list_pods(**mine),
            lambda rv, stop_: kube.pod_events(rv, stop_, **mine),
            self.on_list, self.on_event, stop,
        )  # fmt: skip
        self.lifted = 0  # pods let go (for tests and logs)

    def run(self) -> None:
        keep_following(self.stop, self.watch.follow, "gated-pod watch", log)

    def on_list(self, pods: list[dict]) -> None:
        for pod in pods:
            self.on_event("ADDED", pod)

    def on_event(self, kind: str, pod: dict) -> None:
        if kind != "DELETED" and gate_at(pod) is not None:
            self.let_go(pod)

    def let_go(self, pod: dict) -> None:
        meta = pod["metadata"]
        namespace, name = meta.get("namespace", ""), meta["name"]
        job = job_id_of(pod, self.instance)
        node = counted_node(pod, self.store.counted_nodes(job)) if job is not None else None
        try:
            self.kube.patch_pod(namespace, name, lift(pod, node))
        except Exception as exc:  # a pod must not stay held: lift the gate alone
            if node is None:
                raise
            log.warning("pod %s/%s: could not pin it to %s (%s); letting it go as its template "
                        "pins it", namespace, name, node, error_message(exc))  # fmt: skip
            self.kube.patch_pod(namespace, name, lift(pod, None))
        self.lifted += 1
        log.debug("pod %s/%s: placement gate lifted (node %s)", namespace, name, node)
