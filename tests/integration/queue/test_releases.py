"""A finished job gives back its reservation once its pods are gone, not when its PyTorchJob
turns terminal (its Master may finish while Workers still run); one that ended before it had
pods gives it back with its status change; with no watcher keeping the pod cache current,
a finished job gives it back at once."""

import time

import pytest

from tests.support import LOCAL_CONFIG
from tests.support.admit import admit_next
from wrapper.admission.releases import release_finished
from wrapper.admission.store import CAPACITY_MAX_AGE_S, AdmissionStore
from wrapper.api.schemas import JobRequest
from wrapper.clock import utcnow
from wrapper.config import load_config
from wrapper.jobs.states import JobStatus as S
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def admitted(store, config) -> int:
    body = {"name": "gang", "image": "docker.io/library/busybox", "workers": 1}
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    job_id = store.submit("alpha", spec, None, "")[0]["id"]
    assert admit_next(store, config, "alpha", 30) == ("alpha", job_id)
    return job_id


def pods_cache(store, bound: dict, age: float = 0.0) -> None:
    AdmissionStore(store, load_config(LOCAL_CONFIG)).write_nodes([], bound)
    store.redis.hset(keys.CAPACITY, "updated_at", time.time() - age)


def jobs_held(store) -> int:
    return int(store.redis.hget(keys.team_usage("alpha"), "jobs") or 0)


def finish(store, job_id, via=(S.CREATED, S.RUNNING), end=S.SUCCEEDED) -> None:
    for status in (*via, end):
        fields = {"finished_at": utcnow()} if status == end else {}
        assert store.transition(job_id, status, fields).applied, status


def test_a_finished_job_keeps_its_reservation_while_its_pods_are_bound(store, local_config):
    admissions = AdmissionStore(store, local_config)
    job_id = admitted(store, local_config)
    finish(store, job_id)
    assert jobs_held(store) == 1 and store.reserved_ids() == [job_id]
    pods_cache(store, {str(job_id): {"kwok-node-1": 1}})  # the Worker still runs
    assert release_finished(store, admissions) == []
    assert jobs_held(store) == 1
    version = store.redis.get(keys.ADMISSION_VERSION)
    pods_cache(store, {})  # gone
    assert release_finished(store, admissions) == [job_id]
    assert jobs_held(store) == 0 and store.reserved_ids() == []
    assert store.redis.get(keys.ADMISSION_VERSION) != version  # the views are redone
    assert release_finished(store, admissions) == []  # once


def test_a_job_that_ended_before_it_had_pods_gives_back_at_once(store, local_config):
    job_id = admitted(store, local_config)
    finish(store, job_id, via=(), end=S.FAILED)  # dispatch failed: no PyTorchJob
    assert jobs_held(store) == 0 and store.reserved_ids() == []


def test_without_a_current_pod_cache_a_finished_job_gives_back_at_once(store, local_config):
    admissions = AdmissionStore(store, local_config)
    job_id = admitted(store, local_config)
    finish(store, job_id, end=S.FAILED)
    pods_cache(store, {str(job_id): {"kwok-node-1": 1}}, age=CAPACITY_MAX_AGE_S + 5)
    assert release_finished(store, admissions) == [job_id]
    assert jobs_held(store) == 0


def test_the_finished_reserved_jobs_are_read_in_one_call(store, local_config):
    """The sweep's read: the reserved jobs that ended, and those whose record is gone; not
    one that runs."""
    running, ended, gone = (admitted(store, local_config) for _ in range(3))
    assert store.transition(running, S.CREATED, {}).applied
    finish(store, ended, end=S.FAILED)
    finish(store, gone)
    store.redis.delete(keys.job_key(gone))
    assert store.reserved_ids() == [running, ended, gone]
    assert store.finished_reserved_ids() == [ended, gone]
