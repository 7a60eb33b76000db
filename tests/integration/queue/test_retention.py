"""Retention against a real Redis: a job enters the finished sets when it ends; the watcher's
sweep deletes its PyTorchJob after `retention.pytorchjob_seconds` (the record keeps its final
status) and forgets the record after `retention.finished_seconds` with every key that names it
(team list, Idempotency-Key, submission nonce, RQ job), never while it still holds a
reservation. Records finished before the sets existed are indexed once. (Kubernetes: a fake
that records deletions.)"""

import threading
import time

import pytest

from queue_workers.watcher.retention import RetentionSweep
from tests.integration.queue.test_store import submit
from wrapper.config import RetentionSettings
from wrapper.jobs import retention
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration
S = JobStatus
DAY = 86_400


class FakeKube:
    def __init__(self):
        self.deleted = []

    def delete(self, namespace, name, propagation, backend=None):
        self.deleted.append((namespace, name))
        return True


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def sweeper(config, store, pytorchjob_seconds=DAY, finished_seconds=2 * DAY):
    settings = RetentionSettings(finished_seconds=finished_seconds,
                                 pytorchjob_seconds=pytorchjob_seconds)  # fmt: skip
    config = config.model_copy(update={"retention": settings})
    return RetentionSweep(config, store, FakeKube(), threading.Event())


def finished_job(store, config, name, key=None, status=S.SUCCEEDED):
    rec = submit(store, config, name=name, key=key)
    if status == S.CANCELLED:
        assert store.transition(rec["id"], S.CANCELLED, {"reason": "Cancelled"}).applied
        return store.get(rec["id"])
    ref = {"namespace": "team-alpha", "name": f"tq-{rec['id']}"}
    assert store.transition(rec["id"], S.DISPATCHING).applied
    assert store.transition(rec["id"], S.CREATED, {"pytorchjob": ref}).applied
    assert store.transition(rec["id"], status, {"reason": "Done"}).applied
    return store.get(rec["id"])


def age(store, job_id, seconds):
    """Pretend the job finished `seconds` ago."""
    for which in (keys.FINISHED_JOBS, keys.FINISHED_PYTORCHJOBS):
        if store.redis.zscore(which, job_id) is not None:
            store.redis.zadd(which, {job_id: time.time() - seconds})


def test_a_job_enters_the_finished_sets_when_it_ends(store, local_config):
    running = submit(store, local_config, name="still")
    done = finished_job(store, local_config, "done")
    for which in (keys.FINISHED_JOBS, keys.FINISHED_PYTORCHJOBS):
        assert [int(x) for x in store.redis.zrange(which, 0, -1)] == [done["id"]]
        assert abs(store.redis.zscore(which, done["id"]) - time.time()) < 5
    assert store.redis.zscore(keys.FINISHED_JOBS, running["id"]) is None


def test_the_pytorchjob_goes_first_and_the_record_keeps_the_final_status(store, local_config):
    sweep = sweeper(local_config, store)
    done = finished_job(store, local_config, "old")
    sweep.remove_pytorchjobs()
    assert sweep.kube.deleted == []  # not due yet
    age(store, done["id"], DAY + 1)
    sweep.remove_pytorchjobs()
    assert sweep.kube.deleted == [("team-alpha", f"tq-{done['id']}")]
    kept = store.get(done["id"])
    assert kept["status"] == "succeeded" and kept["reason"] == "Done"
    assert kept[retention.PYTORCHJOB_DELETED_AT]
    assert store.redis.zscore(keys.FINISHED_PYTORCHJOBS, done["id"]) is None
    sweep.remove_pytorchjobs()
    assert len(sweep.kube.deleted) == 1  # once


def test_a_job_that_never_had_a_pytorchjob_deletes_none(store, local_config):
    sweep = sweeper(local_config, store, pytorchjob_seconds=0)
    gone = finished_job(store, local_config, "never", status=S.CANCELLED)
    sweep.remove_pytorchjobs()
    assert sweep.kube.deleted == []
    assert retention.PYTORCHJOB_DELETED_AT not in store.get(gone["id"])


def test_the_record_is_forgotten_with_every_key_that_names_it(store, local_config):
    sweep = sweeper(local_config, store)
    old = finished_job(store, local_config, "forget-me", key="idem-1")
    young = finished_job(store, local_config, "keep-me")
    idem = old["idempotency_key"]
    assert store.redis.exists(idem, keys.submit_nonce(old["nonce"]), f"rq:job:{old['id']}") == 3
    age(store, old["id"], 2 * DAY + 1)
    sweep.forget_records()
    assert store.get(old["id"]) is None
    assert sweep.kube.deleted == [("team-alpha", f"tq-{old['id']}")]  # never left behind
    assert store.redis.exists(idem, keys.submit_nonce(old["nonce"]), f"rq:job:{old['id']}") == 0
    assert [int(x) for x in store.redis.zrange(keys.team_jobs("alpha"), 0, -1)] == [young["id"]]
    assert store.redis.zscore(keys.FINISHED_JOBS, old["id"]) is None
    assert store.get(young["id"])["status"] == "succeeded"
    # The same Idempotency-Key now names nothing: a new submission.
    again = submit(store, local_config, name="forget-me", key="idem-1")
    assert again["id"] not in (old["id"], young["id"])


def test_a_record_holding_a_reservation_is_kept(store, local_config):
    sweep = sweeper(local_config, store)
    held = finished_job(store, local_config, "held", status=S.FAILED)
    store.redis.hset(keys.RESERVATIONS, held["id"], "1000|1|0")  # its pods may still run
    age(store, held["id"], 2 * DAY + 1)
    sweep.forget_records()
    assert store.get(held["id"])["status"] == "failed"
    store.redis.hdel(keys.RESERVATIONS, held["id"])
    sweep.forget_records()
    assert store.get(held["id"]) is None


def test_records_finished_before_the_sets_existed_are_indexed_once(store, local_config):
    done = finished_job(store, local_config, "legacy")
    submit(store, local_config, name="queued")
    store.redis.delete(keys.FINISHED_JOBS, keys.FINISHED_PYTORCHJOBS)
    assert retention.index_records(store, ["alpha", "beta"]) == 1
    assert [int(x) for x in store.redis.zrange(keys.FINISHED_JOBS, 0, -1)] == [done["id"]]
    assert retention.index_records(store, ["alpha", "beta"]) == 0
