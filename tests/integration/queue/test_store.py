"""The job store against a real Redis: atomic submission, the state machine under concurrent
writers, claiming, leases, idempotency, listing."""

import itertools
import threading
import time

import pytest
import redis
from rq.job import Job

from tests.support.admit import admit_next
from wrapper.api.schemas import JobRequest
from wrapper.jobs.leases import requeue_expired
from wrapper.jobs.states import JobStatus, can_transition
from wrapper.jobs.store import IdempotencyConflict, JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration
S = JobStatus


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def submit(store, config, team="alpha", name="job", key=None, **fields):
    body = {"name": name, "image": "docker.io/library/busybox", **fields}
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    record, _ = store.submit(team, spec, key, f"digest-{name}-{sorted(fields.items())}")
    return record


def test_submission_writes_record_and_rq_queue_entry_together(store, local_config):
    rec = submit(store, local_config, name="first")
    assert rec["status"] == "queued" and rec["team"] == "alpha"
    assert store.queues.ids("alpha") == [rec["id"]]
    rq_job = Job.fetch(str(rec["id"]), connection=store.redis)
    # the RQ job id is the trainq job id
    assert rq_job.func_name == "queue_workers.worker.dispatch.dispatch_job"
    # Written by the SUBMIT script from RQ's own Job.to_dict: RQ reads it back as its job.
    assert rq_job.args == () and rq_job.id == str(rec["id"])
    assert rq_job.get_status() == "queued" and rq_job.origin == "trainq-alpha"
    assert rq_job.description == f"dispatch trainq job {rec['id']} (alpha)"
    assert rq_job.timeout == 120 and rq_job.enqueued_at is not None
    assert rec["position"] == 0  # the submission's own answer knows its place
    assert store.ids_with_status("queued") == [rec["id"]]
    assert store.queues.position("alpha", rec["id"]) == 0
    # ids are unique across teams
    other = submit(store, local_config, team="beta", name="second")
    assert other["id"] == rec["id"] + 1


def test_priority_orders_a_team_queue_fifo_within_a_priority(store, local_config):
    a = submit(store, local_config, name="a")
    b = submit(store, local_config, name="b", priority=5)
    c = submit(store, local_config, name="c")
    d = submit(store, local_config, name="d", priority=5)
    order = [b["id"], d["id"], a["id"], c["id"]]
    assert store.queues.ids("alpha") == order
    assert [store.queues.position("alpha", i) for i in order] == [0, 1, 2, 3]


def test_illegal_transitions_are_refused(store, local_config):
    rec = submit(store, local_config)
    result = store.transition(rec["id"], S.RUNNING)
    assert not result.applied and result.previous == "queued"
    assert store.get(rec["id"])["status"] == "queued"
    assert store.transition(rec["id"], S.CANCELLED, {"reason": "Cancelled"}).applied
    assert not store.transition(rec["id"], S.QUEUED).applied
    assert store.get(rec["id"])["reason"] == "Cancelled"
    assert store.ids_with_status("queued") == []  # terminal statuses leave the indexes


def test_concurrent_writers_cannot_make_an_illegal_transition(store, local_config):
    """Writers race from `running`: the watcher to succeeded/failed/restarting, the API to
    cancelling. Whatever wins, every applied change must be legal from the status it replaced
    (a read-check-write without compare-and-set lets cancelling land on a succeeded job)."""
    targets = [S.SUCCEEDED, S.CANCELLING, S.RESTARTING, S.FAILED, S.CANCELLED] * 4
    for _ in range(25):
        rec = submit(store, local_config)
        job_id = rec["id"]
        assert store.transition(job_id, S.DISPATCHING).applied
        assert store.transition(job_id, S.RUNNING).applied
        barrier = threading.Barrier(len(targets))
        applied = []

        def write(target, job_id=job_id, barrier=barrier, applied=applied):
            barrier.wait()
            result = store.transition(job_id, target)
            if result.applied:
                applied.append((result.previous, target.value))

        threads = [threading.Thread(target=write, args=(t,)) for t in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for previous, target in applied:
            assert can_transition(previous, target), (previous, target)
        # The status changes form one chain from `running` to the final status (threads
        # report in any order, so look for an ordering that chains).
        final = store.get(job_id)["status"]
        moves = [(p, t) for p, t in applied if p != t]
        assert any(
            order[0][0] == "running"
            and order[-1][1] == final
            and all(order[i][1] == order[i + 1][0] for i in range(len(order) - 1))
            for order in itertools.permutations(moves)
        ) or (not moves and final == "running"), (applied, final)
        visited = {"running"} | {t for _, t in moves}
        assert all(p in visited for p, t in applied if p == t)
        team_active = store.redis.sismember(keys.team_active("alpha"), job_id)
        assert bool(team_active) == (final in ("running", "restarting", "cancelling"))


def test_admission_marks_dispatching_with_a_lease_and_drops_stale_entries(store, local_config):
    cancelled = submit(store, local_config, name="gone")
    store.transition(cancelled["id"], S.CANCELLED)  # left in the queue on purpose (stale)
    rec = submit(store, local_config, name="next")
    team, job_id = admit_next(store, local_config, "alpha", lease_seconds=30)
    assert (team, job_id) == ("alpha", rec["id"])
    claimed = store.get(job_id)
    assert claimed["status"] == "dispatching" and claimed["admitted_at"]
    assert claimed["attempts"] == 1  # counted by the admission, not the dispatch
    assert store.running_count("alpha") == 1
    deadline = store.redis.zscore(keys.DISPATCH_LEASES, job_id)
    assert 25 < deadline - time.time() <= 30
    assert store.queues.depth("alpha") == 0  # the stale entry was dropped too
    assert admit_next(store, local_config, "alpha", lease_seconds=30) is None


def test_expired_lease_sends_the_job_back_to_the_front(store, local_config):
    first = submit(store, local_config, name="first")
    second = submit(store, local_config, name="second")
    _, job_id = admit_next(store, local_config, "alpha", lease_seconds=0.2)
    assert job_id == first["id"]
    assert requeue_expired(store, local_config) == []  # not yet expired
    time.sleep(0.3)
    assert requeue_expired(store, local_config) == [first["id"]]
    assert store.queues.ids("alpha") == [first["id"], second["id"]]
    assert requeue_expired(store, local_config) == []  # taken once per lease period
    # The re-dispatch hands it out again; it stays `dispatching` with a fresh lease.
    assert admit_next(store, local_config, "alpha", lease_seconds=30) == ("alpha", first["id"])
    assert store.get(first["id"])["status"] == "dispatching"
    assert store.get(first["id"])["attempts"] == 2
    assert Job.fetch(str(first["id"]), connection=store.redis).origin == "trainq-alpha"


def test_leaving_dispatching_drops_the_lease(store, local_config):
    rec = submit(store, local_config)
    admit_next(store, local_config, "alpha", lease_seconds=30)
    assert store.transition(rec["id"], S.CREATED).applied
    assert store.redis.zscore(keys.DISPATCH_LEASES, rec["id"]) is None


def test_idempotency(store, local_config):
    spec = JobRequest.model_validate(
        {"name": "idem", "image": "docker.io/x"}, context={"config": local_config}
    ).to_spec(local_config)
    first, replayed = store.submit("alpha", spec, "key-1", "digest-a")
    assert not replayed
    again, replayed = store.submit("alpha", spec, "key-1", "digest-a")
    assert replayed and again["id"] == first["id"]
    with pytest.raises(IdempotencyConflict):
        store.submit("alpha", spec, "key-1", "digest-b")
    other_team, replayed = store.submit("beta", spec, "key-1", "digest-a")
    assert not replayed and other_team["id"] != first["id"]
    assert store.queues.ids("alpha") == [first["id"]]  # no second queue entry


def test_listing_is_newest_first_with_cursor_and_status(store, local_config):
    ids = [submit(store, local_config, name=f"j{i}")["id"] for i in range(7)]
    submit(store, local_config, team="beta", name="theirs")
    store.transition(ids[2], S.CANCELLED)
    page, cursor = store.list_team("alpha", None, 3, None)
    assert [r["id"] for r in page] == ids[::-1][:3] and cursor == ids[4]
    page, cursor = store.list_team("alpha", None, 3, cursor)
    assert [r["id"] for r in page] == ids[::-1][3:6] and cursor == ids[1]
    page, cursor = store.list_team("alpha", None, 3, cursor)
    assert [r["id"] for r in page] == [ids[0]] and cursor is None
    page, _ = store.list_team("alpha", "cancelled", 50, None)
    assert [r["id"] for r in page] == [ids[2]]


def test_redis_down_raises_connection_error_not_a_partial_write(local_config):
    dead = JobStore(connect("redis://127.0.0.1:9/0"), ["alpha", "beta"])
    with pytest.raises(redis.exceptions.ConnectionError):
        submit(dead, local_config)
