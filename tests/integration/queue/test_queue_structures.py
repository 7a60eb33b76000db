"""The team queue and the team status indexes are sorted sets (O(log n) per operation at any
depth), against a real Redis: the queue's order by priority then id is exact at the score's
extremes, re-queues go to the front or back in place, what an older trainq left in RQ's lists
is moved by the watcher's repair, and a `?status=` page reads only that status's index."""

import threading

import pytest

from queue_workers.watcher.mirror import Mirror
from tests.integration.queue.test_retention import finished_job
from tests.integration.queue.test_store import submit
from tests.integration.watcher.test_leftovers import FakeKube
from tests.support.admit import admit_next
from wrapper.jobs import retention
from wrapper.jobs.queues import PRIORITY_BOUND, QUEUE_ID_SPAN
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration
S = JobStatus


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def test_order_is_exact_at_the_extremes_of_priority_and_id(store, local_config):
    """Scores near 2**53: a double rounding them would swap neighbours or merge ranks."""
    store.redis.set(keys.JOB_ID_COUNTER, QUEUE_ID_SPAN - 10)
    low = [submit(store, local_config, name=f"low{i}", priority=-PRIORITY_BOUND)["id"]
           for i in range(3)]  # fmt: skip
    high = submit(store, local_config, name="high", priority=PRIORITY_BOUND)
    mid = submit(store, local_config, name="mid", priority=0)
    high2 = submit(store, local_config, name="high2", priority=PRIORITY_BOUND)
    assert high["position"] == 0 and mid["position"] == 1 and high2["position"] == 1
    assert store.queues.ids("alpha") == [high["id"], high2["id"], mid["id"], *low]
    scores = [s for _, s in store.redis.zrange(keys.team_queue("alpha"), 0, -1, withscores=True)]
    assert len(set(scores)) == len(scores)  # every score distinct: no precision lost
    assert store.queues.position("alpha", low[-1]) == 5 and store.queues.depth("alpha") == 6


def test_requeues_go_to_the_front_or_back_in_place_and_never_twice(store, local_config):
    a, b, c = (submit(store, local_config, name=n)["id"] for n in "abc")
    store.queues.requeue_front("alpha", c)  # already there: nothing moves
    assert store.queues.ids("alpha") == [a, b, c]
    assert admit_next(store, local_config, "alpha", lease_seconds=30) == ("alpha", a)
    store.queues.requeue_front("alpha", a)  # (a re-dispatch: its lease expired)
    assert store.queues.ids("alpha") == [a, b, c]
    store.redis.zrem(keys.team_queue("alpha"), b)
    store.queues.requeue_in_place("alpha", b, 0)
    assert store.queues.ids("alpha") == [a, b, c]


def test_cancel_removes_a_job_from_any_depth(store, local_config):
    ids = [submit(store, local_config, name=f"j{i}")["id"] for i in range(50)]
    store.queues.remove("alpha", ids[37])
    assert store.queues.position("alpha", ids[37]) is None
    assert store.queues.position("alpha", ids[38]) == 37 and store.queues.depth("alpha") == 49


def test_the_watcher_moves_an_older_trainqs_rq_lists_into_the_queues(store, local_config):
    """Queues were RQ lists before: the relist re-queues every queued job missing from its
    sorted set where its priority places it, and empties RQ's list."""
    a = submit(store, local_config, name="a")["id"]
    b = submit(store, local_config, name="b", priority=5)["id"]
    c = submit(store, local_config, team="beta", name="c")["id"]
    store.redis.delete(keys.team_queue("alpha"), keys.team_queue("beta"))
    legacy = store.queues.queue("alpha").key
    store.redis.rpush(legacy, b, a)
    Mirror(local_config, store, FakeKube([]), threading.Event()).relist()
    assert store.queues.ids("alpha") == [b, a] and store.queues.ids("beta") == [c]
    assert store.redis.exists(legacy) == 0


def test_a_status_page_reads_its_own_index(store, local_config):
    done = [finished_job(store, local_config, f"d{i}")["id"] for i in range(3)]
    queued = [submit(store, local_config, name=f"q{i}")["id"] for i in range(3)]
    assert admit_next(store, local_config, "alpha", lease_seconds=30) == ("alpha", queued[0])
    assert [int(x) for x in store.redis.zrange(keys.team_status("alpha", "queued"), 0, -1)] == \
        queued[1:]  # fmt: skip
    page, cursor = store.list_team("alpha", "succeeded", 2, None)
    assert [r["id"] for r in page] == done[::-1][:2] and cursor == done[1]
    page, cursor = store.list_team("alpha", "succeeded", 2, cursor)
    assert [r["id"] for r in page] == [done[0]] and cursor is None
    assert [r["id"] for r in store.list_team("alpha", "dispatching", 5, None)[0]] == [queued[0]]
    assert store.list_team("beta", "succeeded", 5, None) == ([], None)


def test_records_written_before_the_status_indexes_are_indexed_once(store, local_config):
    done = finished_job(store, local_config, "old")["id"]
    queued = submit(store, local_config, name="waiting")["id"]
    for status in S:
        store.redis.delete(keys.team_status("alpha", status))
    store.redis.zadd(keys.team_status("alpha", "queued"), {done: done})  # a stale entry
    retention.index_records(store, ["alpha", "beta"])
    assert [r["id"] for r in store.list_team("alpha", "succeeded", 5, None)[0]] == [done]
    assert [r["id"] for r in store.list_team("alpha", "queued", 5, None)[0]] == [queued]
    # The stale entry was dropped by the page that met it.
    assert store.redis.zscore(keys.team_status("alpha", "queued"), done) is None


def test_forgetting_a_record_drops_its_status_entry(store, local_config):
    done = finished_job(store, local_config, "gone")
    assert retention.forget(store, done["id"], done) == "forgotten"
    assert store.redis.zscore(keys.team_status("alpha", "succeeded"), done["id"]) is None
