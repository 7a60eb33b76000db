"""The node and pod list-watches that keep admission's per-node picture current in Redis
(`AdmissionStore.write_nodes`): each schedulable node's allocatable and what the counted pods
bound to it request, and on which nodes each trainq job's pods are bound. Which nodes and pods
count, and the one-off refresh a worker does when the cache is stale: `queue_workers.kube`.

Each list-watch lists once, then follows its watch from the last resourceVersion seen (round
after round), and lists again only after 410 Gone or a failure. The two update one in-memory
picture (the per-node sums kept incrementally, `PodLedger`), which a writer thread puts in
Redis: at once after a quiet spell, then at most once per DEBOUNCE_S while changes keep
coming, always ending with the latest picture, so a pod storm costs a few writes and version
bumps, not one per event. While both watches are live the writer also confirms the cache every
TOUCH_S; when one fails, the confirmations stop and workers list for themselves once the cache
is older than CAPACITY_MAX_AGE_S."""

import logging
import math
import threading
import time
from collections.abc import Callable, Iterator

from queue_workers.kube.client import Kube
from queue_workers.kube.errors import ResourceExpired
from queue_workers.kube.nodes import compact, schedulable, with_usage
from queue_workers.kube.pods import PodLedger, placed, pod_key
from queue_workers.watcher.loops import keep_following, keep_sweeping
from wrapper.admission.store import CAPACITY_MAX_AGE_S, AdmissionStore

log = logging.getLogger(__name__)
DEBOUNCE_S = 0.2
TOUCH_S = CAPACITY_MAX_AGE_S / 3  # two confirmations may be lost before workers step in
CHANGES = ("ADDED", "MODIFIED", "DELETED")


class ListWatch:
    """One resource's list-then-watch (`follow` is one round, for `keep_following`): list
    when nothing is known yet, else resume the watch where the last round ended."""

    def __init__(
        self,
        what: str,
        list_all: Callable[[], tuple[list[dict], str]],
        events: Callable[[str, threading.Event], Iterator[tuple[str, dict]]],
        on_list: Callable[[list[dict]], None],
        on_event: Callable[[str, dict], None],
        stop: threading.Event,
    ):
        self.what, self.list_all, self.events = what, list_all, events
        self.on_list, self.on_event, self.stop = on_list, on_event, stop
        self.resource_version: str | None = None  # None: the picture must be listed again

    @property
    def live(self) -> bool:
        return self.resource_version is not None

    def follow(self) -> None:
        if self.resource_version is None:
            items, resource_version = self.list_all()
            self.on_list(items)
            self.resource_version = resource_version
        try:
            for kind, obj in self.events(self.resource_version, self.stop):
                if kind in CHANGES:
                    self.on_event(kind, obj)
                # Bookmarks too: a quiet resource's next round resumes from a recent version.
                self.resource_version = obj["metadata"]["resourceVersion"]
        except ResourceExpired:
            log.info("%s: resourceVersion %s expired; listing again", self.what,
                     self.resource_version)  # fmt: skip
            self.resource_version = None
        except BaseException:
            self.resource_version = None  # events may have been missed: list again
            raise


class NodeCache:
    """The in-memory picture both watches update, and the writer that puts it in Redis."""

    def __init__(self, admissions: AdmissionStore, stop: threading.Event):
        self.admissions, self.stop = admissions, stop
        self.instance = admissions.config.instance
        self.lock = threading.Lock()
        self.changed = threading.Event()
        self.nodes: dict[str, dict] = {}  # schedulable nodes, compacted
        self.ledger = PodLedger()
        self.watches: list[ListWatch] = []  # the picture is written only while all are live
        self._touch_due = -math.inf

    def set_nodes(self, items: list[dict]) -> None:
        fresh = {n["metadata"]["name"]: compact(n) for n in items if schedulable(n)}
        with self.lock:
            self.nodes = fresh
        self.changed.set()  # (re)listed: confirm the cache even if nothing moved

    def node_event(self, kind: str, obj: dict) -> None:
        name = obj["metadata"]["name"]
        entry = compact(obj) if kind != "DELETED" and schedulable(obj) else None
        with self.lock:
            if self.nodes.get(name) == entry:
                return  # a heartbeat: nothing admission reads moved
            if entry is None:
                del self.nodes[name]
            else:
                self.nodes[name] = entry
        self.changed.set()

    def set_pods(self, items: list[dict]) -> None:
        entries = {pod_key(p): placed(p, self.instance) for p in items}
        entries = {k: e for k, e in entries.items() if e is not None}
        with self.lock:
            self.ledger.reset(entries)
        self.changed.set()

    def pod_event(self, kind: str, obj: dict) -> None:
        entry = None if kind == "DELETED" else placed(obj, self.instance)
        with self.lock:
            moved = self.ledger.apply(pod_key(obj), entry)
        if moved:
            self.changed.set()

    def write_pass(self) -> None:
        """Wait for a change (or the next confirmation), write the picture, then hold off
        DEBOUNCE_S: changes meanwhile are written together by the next pass."""
        self.changed.wait(max(self._touch_due - time.monotonic(), 0))
        if self.stop.is_set():
            return
        if not all(w.live for w in self.watches):
            self.stop.wait(DEBOUNCE_S)  # half a picture would under-count what is in use
            return
        self.changed.clear()
        with self.lock:
            nodes = with_usage(list(self.nodes.values()), self.ledger.used)
            bound = {job: dict(on) for job, on in self.ledger.bound.items()}
        try:
            self.admissions.write_nodes(nodes, bound)
        except BaseException:
            self.changed.set()  # not written: the next pass tries again
            raise
        self._touch_due = time.monotonic() + TOUCH_S
        self.stop.wait(DEBOUNCE_S)


class NodeWatch:
    """The watcher's reconciler for admission's node and pod cache (one Kubernetes client per
    watch thread, as everywhere in the watcher)."""

    def __init__(
        self,
        kube: Kube,
        admissions: AdmissionStore,
        stop: threading.Event,
        pod_kube: Kube | None = None,
    ):
        self.stop = stop
        self.cache = NodeCache(admissions, stop)
        pod_kube = pod_kube or kube
        self.nodes = ListWatch("node watch", kube.list_nodes, kube.node_events,
                               self.cache.set_nodes, self.cache.node_event, stop)  # fmt: skip
        self.pods = ListWatch("pod watch", pod_kube.list_pods, pod_kube.pod_events,
                              self.cache.set_pods, self.cache.pod_event, stop)  # fmt: skip
        self.cache.watches = [self.nodes, self.pods]

    def run(self) -> None:
        """The pod watch and the writer in threads of their own, the node watch in this one."""
        threading.Thread(target=keep_following, name="pod-watch", daemon=True,
                         args=(self.stop, self.pods.follow, "pod watch", log)).start()  # fmt: skip
        threading.Thread(target=keep_sweeping, name="node-cache-writer", daemon=True,
                         args=(self.stop, self.cache.write_pass, log)).start()  # fmt: skip
        keep_following(self.stop, self.nodes.follow, "node watch", log)
