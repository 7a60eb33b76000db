"""A worker's snapshot against a real Redis: each process re-reads only the team queues whose
version changed, and never serves a queue from before a Redis flush or a cancellation."""

import pytest

from tests.support.admit import admit_next
from wrapper.admission import store as admission_store
from wrapper.admission.store import AdmissionStore
from wrapper.api.schemas import JobRequest
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def submit(store, config, team="alpha", name="job"):
    body = {"name": name, "image": "docker.io/library/busybox"}
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    return store.submit(team, spec, None, "")[0]["id"]


def queued(state, team):
    return [j.id for j in next(t for t in state.teams if t.name == team).queue]


def test_only_changed_queues_are_read_again(store, local_config):
    adm = AdmissionStore(store, local_config)
    a1, b1 = submit(store, local_config, "alpha"), submit(store, local_config, "beta")
    state, _ = adm.load(500)
    assert queued(state, "alpha") == [a1] and queued(state, "beta") == [b1]
    beta_entry = adm._queues["beta"]
    a2 = submit(store, local_config, "alpha")
    state, _ = adm.load(500)
    assert queued(state, "alpha") == [a1, a2]
    assert adm._queues["beta"] is beta_entry  # unchanged version: not read again
    admit_next(store, local_config, "alpha", lease_seconds=30)  # ADMIT takes a1 off
    state, _ = adm.load(500)
    assert queued(state, "alpha") == [a2]


def test_a_cancelled_job_leaves_the_snapshot(store, local_config):
    adm = AdmissionStore(store, local_config)
    job = submit(store, local_config)
    assert queued(adm.load(500)[0], "alpha") == [job]
    assert store.transition(job, JobStatus.CANCELLED).applied  # before the queue entry goes
    assert queued(adm.load(500)[0], "alpha") == []
    store.queues.remove("alpha", job)
    assert queued(adm.load(500)[0], "alpha") == []


def test_nothing_from_before_a_flush_survives_in_the_cache(store, local_config):
    adm = AdmissionStore(store, local_config)
    old = submit(store, local_config)
    assert queued(adm.load(500)[0], "alpha") == [old]
    store.redis.flushdb()
    new = submit(store, local_config)  # the same queue version number as before the flush
    assert store.redis.hget(keys.QUEUE_VERSIONS, "alpha") == b"1"
    assert queued(adm.load(500)[0], "alpha") == [new]


def test_changes_made_outside_the_scripts_show_within_the_reread_period(
    store, local_config, monkeypatch
):
    adm = AdmissionStore(store, local_config)
    job = submit(store, local_config)
    assert queued(adm.load(500)[0], "alpha") == [job]
    store.redis.delete(keys.team_queue("alpha"))  # edited by hand: no version bump
    assert queued(adm.load(500)[0], "alpha") == [job]  # (still the cached read)
    monkeypatch.setattr(admission_store, "QUEUE_REREAD_ALL_S", 0.0)
    assert queued(adm.load(500)[0], "alpha") == []


def test_a_size_credit_orders_each_queue_and_keeps_re_queued_jobs_in_front(store, local_config):
    """`admission.size_credit_seconds`: the snapshot's queue is in admission's order (larger
    jobs first within a priority), and a job put back at the front stays there."""
    credit = local_config.admission.model_copy(update={"size_credit_seconds": 60.0})
    config = local_config.model_copy(update={"admission": credit})
    adm = AdmissionStore(store, config)

    def gpus(n: int) -> int:
        body = {"name": f"g{n}", "image": "docker.io/library/busybox", "resources": {"gpu": n}}
        spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
        return store.submit("alpha", spec, None, "")[0]["id"]

    one, four, two = gpus(1), gpus(4), gpus(2)
    assert queued(adm.load(500)[0], "alpha") == [four, two, one]
    assert queued(AdmissionStore(store, local_config).load(500)[0], "alpha") == [one, four, two]
    store.redis.zrem(keys.team_queue("alpha"), str(one))  # its pods were not ready: re-queued
    store.queues.requeue_front("alpha", one)
    assert queued(adm.load(500)[0], "alpha") == [one, four, two]
