"""The API's cached queue view: redone when the admission version changes or it ages, one
thread at a time; meanwhile a reader of an aged view answers from it, a reader of a newer
version waits for a view read after it asked."""

import threading

import pytest

from wrapper.admission.views import ViewCache


class Builds:
    def __init__(self):
        self.count = 0
        self.gate: threading.Event | None = None
        self.entered = threading.Event()

    def __call__(self):
        self.count += 1
        self.entered.set()
        if self.gate is not None:
            assert self.gate.wait(5)
        return f"view-{self.count}"


@pytest.fixture
def clock(monkeypatch) -> list[float]:
    """The views' monotonic clock, set by the test."""
    now = [100.0]
    monkeypatch.setattr("wrapper.admission.views.time.monotonic", lambda: now[0])
    return now


def test_reused_while_the_version_is_unchanged_and_redone_when_it_changes():
    builds = Builds()
    cache = ViewCache(builds)
    assert cache.get(b"1") == "view-1"
    assert cache.get(b"1") == "view-1"
    assert builds.count == 1
    assert cache.get(b"2") == "view-2"
    assert cache.get(None) == "view-3"  # a flushed Redis has no version: still a change


def test_redone_once_it_is_older_than_the_max_age(clock):
    builds = Builds()
    cache = ViewCache(builds)
    assert cache.get(b"1") == "view-1"
    clock[0] += ViewCache.MAX_AGE_S - 0.01
    assert cache.get(b"1") == "view-1"
    clock[0] += 0.02
    assert cache.get(b"1") == "view-2"


def test_while_one_thread_redoes_an_aged_view_the_others_answer_from_it(clock):
    builds = Builds()
    cache = ViewCache(builds)
    assert cache.get(b"1") == "view-1"
    clock[0] += ViewCache.MAX_AGE_S + 0.1  # aged, same version
    builds.gate, builds.entered = threading.Event(), threading.Event()
    results = []
    worker = threading.Thread(target=lambda: results.append(cache.get(b"1")))
    worker.start()
    assert builds.entered.wait(5)  # the worker is inside the rebuild
    assert cache.get(b"1") == "view-1"  # not blocked, not a second rebuild
    assert builds.count == 2
    builds.gate.set()
    worker.join(5)
    assert results == ["view-2"] and cache.get(b"1") == "view-2" and builds.count == 2


def test_a_reader_of_a_newer_version_never_gets_an_older_view(clock):
    """The dashboard's case: the queue and the job list load side by side after an event."""
    builds = Builds()
    cache = ViewCache(builds)
    assert cache.get(b"1") == "view-1"
    builds.gate, builds.entered = threading.Event(), threading.Event()
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", cache.get(b"2")))
    first.start()
    assert builds.entered.wait(5)  # redoing for version 2, its read begun at t=100
    clock[0] += 0.01  # a reader that asked after that read began: the rebuild under way is older
    second = threading.Thread(target=lambda: results.setdefault("second", cache.get(b"3")))
    second.start()
    second.join(0.2)
    assert second.is_alive()  # it waits instead of answering from view-1
    builds.gate.set()
    first.join(5)
    second.join(5)
    assert results == {"first": "view-2", "second": "view-3"} and builds.count == 3
    clock[0] += 0.01
    assert cache.get(b"3") == "view-3" and builds.count == 3


def test_a_rebuild_begun_after_a_reader_asked_serves_it_without_another(clock):
    builds = Builds()
    cache = ViewCache(builds)
    assert cache.get(b"1") == "view-1"
    cache._lock.acquire()  # a reader of version 2 asks at t=100; the lock is busy
    results = []
    reader = threading.Thread(target=lambda: results.append(cache.get(b"2")))
    reader.start()
    reader.join(0.2)
    clock[0] += 0.01  # another thread rebuilds, beginning after the reader asked
    cache._view, cache._version, cache._at = "view-x", b"3", clock[0]
    cache._lock.release()
    reader.join(5)
    assert results == ["view-x"] and builds.count == 1


def test_the_first_view_is_waited_for_not_skipped():
    builds = Builds()
    builds.gate = threading.Event()
    cache = ViewCache(builds)
    results = []
    first = threading.Thread(target=lambda: results.append(cache.get(b"1")))
    first.start()
    assert builds.entered.wait(5)
    second = threading.Thread(target=lambda: results.append(cache.get(b"1")))
    second.start()
    builds.gate.set()
    first.join(5)
    second.join(5)
    assert results == ["view-1", "view-1"] and builds.count == 1


def test_the_cluster_view_shows_each_pools_nodes_and_their_free_room():
    from wrapper.admission import Node, Pool, Res, explain
    from wrapper.admission.snapshot import ClusterState, TeamState
    from wrapper.admission.views import AdmissionView

    gi = 2**30
    alloc = Res(32_000, 256 * gi, 8)
    nodes = {"n1": Node("n1", alloc, 110, Res(30_000, 200 * gi, 3), 100),
             "n2": Node("n2", alloc, 110, alloc, 110)}  # fmt: skip
    pools = {
        "a": Pool(alloc, frozenset({"a"}), ("n1",)),
        "b": Pool(alloc, frozenset({"b"}), ("n2",)),
    }
    teams = tuple(TeamState(n, 1.0, alloc, 10, None, Res(), 0, (), pool=p)
                  for n, p in (("alpha", "a"), ("beta", "b")))  # fmt: skip
    st = ClusterState(teams, alloc.scale(2), 0.0, 60.0, None, pools, nodes)
    view = AdmissionView(st, explain(st))
    whole = {"cpu": "32", "memory": "256Gi", "gpu": 8}
    n1 = {"name": "n1", "allocatable": whole, "free": {"cpu": "30", "memory": "200Gi", "gpu": 3},
          "free_pods": 100}  # fmt: skip
    n2 = {"name": "n2", "allocatable": whole, "free": whole, "free_pods": 110}
    assert view.cluster()["pools"] == [{"teams": ["alpha"], "nodes": [n1]},
                                       {"teams": ["beta"], "nodes": [n2]}]  # fmt: skip
    no_nodes = ClusterState(teams, alloc.scale(2), 0.0, 60.0, None, pools)
    assert AdmissionView(no_nodes, explain(no_nodes)).cluster()["pools"] is None
