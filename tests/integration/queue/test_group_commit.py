"""Group commit of concurrent submissions against a real Redis: submissions that arrive while
another one is in flight go in one pipeline, and each still gets its own outcome, exactly as a
lone submission would (its own id and place, its own error, its own lost-reply resolution).

To make a batch deterministic, the test holds the group's turn (as an in-flight batch does)
while the submissions queue up behind it, then lets it go."""

import threading
import time

import pytest
import redis

from tests.integration.queue.test_store import submit
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def batched(store, submissions):
    """Run `submissions` (callables) on threads while the group's turn is held, so they queue
    up; then release it. Returns each one's result or exception, in order."""
    group = store._submit.group
    results: list = [None] * len(submissions)

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as exc:  # noqa: BLE001 - the test reads it
            results[i] = exc

    group._turn.acquire()
    threads = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(submissions)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while len(group._pending) < len(submissions) and time.monotonic() < deadline:
        time.sleep(0.005)
    group._turn.release()
    for t in threads:
        t.join(10)
    return results


def test_concurrent_submissions_share_a_round_trip_each_with_its_own_job(store, local_config):
    group = store._submit.group
    n = 12
    records = batched(
        store, [lambda i=i: submit(store, local_config, name=f"j{i}") for i in range(n)]
    )
    assert (group.batches, group.calls) == (1, n)  # one pipeline carried them all
    ids = sorted(r["id"] for r in records)
    assert ids == list(range(1, n + 1))
    # Each answer is its own job, in its own place; the queue holds each once, in id order.
    for rec in records:
        stored = store.get(rec["id"])
        assert stored["name"] == rec["name"] and stored["status"] == "queued"
        assert rec["position"] == rec["id"] - 1
    assert store.queues.ids("alpha") == ids


def test_one_submission_failing_in_redis_leaves_the_others_of_its_batch_alone(
    store, local_config, scratch_url
):
    # beta's queue key holds a string: its SUBMIT fails inside Redis (WRONGTYPE).
    redis.Redis.from_url(scratch_url).set(keys.team_queue("beta"), "not a sorted set")
    results = batched(store, [
        lambda: submit(store, local_config, name="a1"),
        lambda: submit(store, local_config, team="beta", name="b1"),
        lambda: submit(store, local_config, name="a2"),
    ])  # fmt: skip
    assert store._submit.group.batches == 1
    a1, b1, a2 = results
    assert isinstance(b1, redis.exceptions.ResponseError) and "WRONGTYPE" in str(b1)
    assert {a1["name"], a2["name"]} == {"a1", "a2"}
    assert sorted(store.queues.ids("alpha")) == sorted([a1["id"], a2["id"]])


def test_a_batch_sent_after_the_script_cache_was_flushed_is_loaded_and_sent_again_once(
    store, local_config, scratch_url
):
    submit(store, local_config, name="first")  # the script is loaded
    redis.Redis.from_url(scratch_url).script_flush()  # (as after a Redis restart)
    records = batched(
        store, [lambda i=i: submit(store, local_config, name=f"j{i}") for i in range(4)]
    )
    assert store._submit.group.batches == 2
    assert sorted(r["id"] for r in records) == [2, 3, 4, 5]
    assert len(store.queues.ids("alpha")) == 5  # each once: NOSCRIPT ran nothing


class LosesPipelineReplies(redis.Redis):
    """A client whose pipelines run their commands and then lose the replies."""

    def pipeline(self, transaction=True, shard_hint=None):
        pipe = super().pipeline(transaction, shard_hint)
        execute = pipe.execute

        def lost(raise_on_error=True):
            execute(raise_on_error)
            raise redis.exceptions.TimeoutError("Timeout reading from socket")

        pipe.execute = lost
        return pipe


def test_a_lost_reply_of_a_batch_is_resolved_by_each_submission_for_itself(
    scratch_url, local_config
):
    store = JobStore(
        LosesPipelineReplies.from_url(scratch_url), [t.name for t in local_config.teams]
    )
    records = batched(
        store, [lambda i=i: submit(store, local_config, name=f"j{i}") for i in range(3)]
    )
    assert store._submit.group.batches == 1
    # Every SUBMIT ran; each submission learnt its own job from its nonce, none twice.
    assert sorted(r["name"] for r in records) == ["j0", "j1", "j2"]
    assert sorted(r["id"] for r in records) == [1, 2, 3]
    for rec in records:
        assert store.get(rec["id"])["name"] == rec["name"]
    assert sorted(store.queues.ids("alpha")) == [1, 2, 3]


def test_a_lone_submission_goes_by_itself(store, local_config):
    group = store._submit.group
    for i in range(3):
        submit(store, local_config, name=f"alone{i}")
    assert (group.batches, group.calls) == (3, 3)
