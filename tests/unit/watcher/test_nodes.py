"""The watcher's node and pod list-watches and the writer that batches their changes into the
capacity cache (queue_workers.watcher.nodes), with fake streams and a fake store."""

import threading
import time
from types import SimpleNamespace

import pytest

from queue_workers.kube.errors import ResourceExpired
from queue_workers.watcher import nodes as watcher_nodes
from queue_workers.watcher.loops import keep_sweeping
from queue_workers.watcher.nodes import DEBOUNCE_S, ListWatch, NodeCache


def node(name, gpu="8", ready="True"):
    return {
        "metadata": {"name": name, "resourceVersion": "1"},
        "spec": {},
        "status": {"conditions": [{"type": "Ready", "status": ready}],
                   "allocatable": {"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": gpu,
                                   "pods": "110"}},
    }  # fmt: skip


def pod(name, node_name, gpu=1, job=None):
    labels = {}
    if job is not None:
        labels = {"app.kubernetes.io/managed-by": "trainq", "trainq.dev/instance": "tq",
                  "trainq.dev/job-id": str(job)}  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": labels, "resourceVersion": "1"},
        "spec": {"nodeName": node_name, "containers": [
            {"resources": {"requests": {"cpu": "1", "nvidia.com/gpu": str(gpu)}}}]},
        "status": {"phase": "Running"},
    }  # fmt: skip


class FakeAdmissions:
    config = SimpleNamespace(instance="tq")

    def __init__(self, fail=0):
        self.writes: list[tuple[float, list, dict]] = []
        self.fail = fail

    def write_nodes(self, nodes, bound):
        if self.fail:
            self.fail -= 1
            raise ConnectionError("redis down")
        self.writes.append((time.monotonic(), nodes, bound))


class Stream:
    """A fake list and watch: each watch round yields the queued events, then ends (or
    raises what is queued instead)."""

    def __init__(self, items, resource_version="10"):
        self.items, self.resource_version = items, resource_version
        self.lists, self.watched_from, self.rounds = 0, [], []

    def list_all(self):
        self.lists += 1
        return self.items, self.resource_version

    def events(self, resource_version, stop):
        self.watched_from.append(resource_version)
        outcome = self.rounds.pop(0) if self.rounds else []
        if isinstance(outcome, BaseException):
            raise outcome
        yield from outcome


def event(kind, obj, rv):
    return kind, {**obj, "metadata": {**obj["metadata"], "resourceVersion": rv}}


def test_a_list_watch_lists_once_and_resumes_from_the_last_version_seen():
    stream, seen, listed = Stream([node("a")]), [], []
    watch = ListWatch("nodes", stream.list_all, stream.events, listed.append,
                      lambda k, o: seen.append(k), threading.Event())  # fmt: skip
    assert not watch.live
    bookmark = ("BOOKMARK", {"metadata": {"resourceVersion": "13"}})
    stream.rounds = [[event("MODIFIED", node("a"), "11"), bookmark], []]
    watch.follow()
    assert watch.live and stream.lists == 1 and len(listed) == 1
    assert seen == ["MODIFIED"]  # bookmarks only move the version
    watch.follow()
    assert stream.lists == 1 and stream.watched_from == ["10", "13"]


def test_a_list_watch_lists_again_after_410_gone_or_a_failure():
    stream = Stream([node("a")])
    watch = ListWatch("nodes", stream.list_all, stream.events, lambda items: None,
                      lambda k, o: None, threading.Event())  # fmt: skip
    stream.rounds = [ResourceExpired("10")]
    watch.follow()  # 410: not an error, the next round lists
    assert not watch.live
    stream.rounds = [ConnectionError("apiserver gone")]
    with pytest.raises(ConnectionError):
        watch.follow()
    assert not watch.live and stream.lists == 2
    watch.follow()
    assert watch.live and stream.lists == 3


def live_cache(admissions):
    cache = NodeCache(admissions, threading.Event())
    cache.watches = [SimpleNamespace(live=True), SimpleNamespace(live=True)]
    return cache


def test_the_written_picture_has_each_nodes_usage_and_each_jobs_bound_pods():
    admissions = FakeAdmissions()
    cache = live_cache(admissions)
    cache.set_nodes([node("a"), node("b"), node("sick", ready="False")])
    cache.set_pods([pod("m", "a", gpu=2, job=4), pod("w", "b", job=4), pod("x", "b", gpu=3)])
    cache.write_pass()
    (_, written, bound), = admissions.writes  # fmt: skip
    by_name = {n["name"]: n for n in written}
    assert sorted(by_name) == ["a", "b"]
    assert by_name["a"]["used"] == {"cpu": 1000, "memory": 0, "gpu": 2, "pods": 1}
    assert by_name["b"]["used"] == {"cpu": 2000, "memory": 0, "gpu": 4, "pods": 2}
    assert by_name["a"]["pods"] == 110
    assert bound == {"4": {"a": 1, "b": 1}}


def test_nothing_is_written_until_both_watches_are_live():
    admissions = FakeAdmissions()
    cache = live_cache(admissions)
    cache.watches[1] = SimpleNamespace(live=False)  # nodes listed, pods not yet
    cache.set_nodes([node("a")])
    cache.write_pass()
    assert admissions.writes == []
    cache.watches[1].live = True
    cache.write_pass()
    assert len(admissions.writes) == 1


def test_a_heartbeat_or_an_unchanged_pod_does_not_wake_the_writer():
    cache = live_cache(FakeAdmissions())
    cache.set_nodes([node("a")])
    cache.set_pods([pod("p", "a")])
    cache.changed.clear()
    cache.node_event("MODIFIED", node("a"))
    cache.pod_event("MODIFIED", {**pod("p", "a"), "status": {"phase": "Running", "x": 1}})
    cache.node_event("DELETED", node("never-schedulable", ready="False"))
    assert not cache.changed.is_set()
    cache.pod_event("MODIFIED", {**pod("p", "a"), "status": {"phase": "Succeeded"}})
    assert cache.changed.is_set()
    assert cache.ledger.used == {}


def test_a_failed_write_is_retried_with_the_latest_picture():
    admissions = FakeAdmissions(fail=1)
    cache = live_cache(admissions)
    cache.set_nodes([node("a")])
    with pytest.raises(ConnectionError):
        cache.write_pass()
    cache.pod_event("ADDED", pod("p", "a", gpu=5))
    cache.write_pass()
    (_, written, _), = admissions.writes  # fmt: skip
    assert written[0]["used"]["gpu"] == 5


def test_a_pod_storm_becomes_a_few_writes_ending_with_the_last_state():
    admissions = FakeAdmissions()
    cache = live_cache(admissions)
    cache.set_nodes([node("a"), node("b")])
    cache.set_pods([])
    writer = threading.Thread(target=keep_sweeping, daemon=True,
                              args=(cache.stop, cache.write_pass, watcher_nodes.log))  # fmt: skip
    writer.start()
    start = time.monotonic()
    for i in range(400):  # ~1 s of events, every one a change
        cache.pod_event("ADDED", pod(f"p{i}", "ab"[i % 2]))
        if i % 3 == 0:
            cache.pod_event("DELETED", pod(f"p{i}", "ab"[i % 2]))
        time.sleep(0.0025)
    elapsed = time.monotonic() - start
    final = {n: dict(u) for n, u in cache.ledger.used.items()}
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not (
        admissions.writes and {n["name"]: n["used"] for n in admissions.writes[-1][1]} == final
    ):
        time.sleep(0.05)
    cache.stop.set()
    writer.join(5)
    assert {n["name"]: n["used"] for n in admissions.writes[-1][1]} == final
    assert final["a"]["pods"] + final["b"]["pods"] == 400 - 134
    # At most one write per DEBOUNCE_S while the events came, and one for the last of them.
    assert len(admissions.writes) <= elapsed / DEBOUNCE_S + 2
    gaps = [b[0] - a[0] for a, b in zip(admissions.writes, admissions.writes[1:], strict=False)]
    assert all(g >= DEBOUNCE_S * 0.9 for g in gaps)


def test_a_live_cache_is_confirmed_periodically_and_a_broken_one_is_not(monkeypatch):
    monkeypatch.setattr(watcher_nodes, "TOUCH_S", 0.3)
    admissions = FakeAdmissions()
    cache = live_cache(admissions)
    cache.set_nodes([node("a")])
    writer = threading.Thread(target=keep_sweeping, daemon=True,
                              args=(cache.stop, cache.write_pass, watcher_nodes.log))  # fmt: skip
    writer.start()
    time.sleep(1.2)
    confirmed = len(admissions.writes)
    cache.watches[0].live = False  # the node watch failed: workers must stop trusting us
    time.sleep(0.1)
    broken_at = len(admissions.writes)
    time.sleep(1.0)
    cache.stop.set()
    writer.join(5)
    assert confirmed >= 3  # the first write, then about one per 0.3 s
    assert len(admissions.writes) == broken_at
