"""Where admission counted a job's replicas, in Redis: ADMIT records it with the reservation
only while no other placement was written since the plan (two workers never count the same
free gpu), and the job's end gives it back with its reservation."""

import json
import time

import pytest

from wrapper.api.schemas import JobRequest
from wrapper.clock import utcnow
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys, scripts

pytestmark = pytest.mark.integration
ROOM = (10**9, 2**60, 10**6)


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def submit(store, config) -> int:
    body = {"name": "gang", "image": "docker.io/library/busybox", "workers": 1}
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    return store.submit("alpha", spec, None, "")[0]["id"]


def admit(store, job_id: int, placement: dict, version: str):
    now = time.time()
    return scripts.Admit(store.redis)(
        team="alpha", job_id=job_id, queue_key=keys.team_queue("alpha"),
        queued=JobStatus.QUEUED.value, dispatching=JobStatus.DISPATCHING.value,
        lease_deadline=now + 30, admitted_at=json.dumps(utcnow()), demand=(2000, 2**30, 12),
        team_limit=ROOM, max_jobs=100, capacity=ROOM, sharing=["alpha"], now=now,
        events_since=now - 60, wake_another=False, placement=json.dumps(placement),
        placement_version=version,
    )  # fmt: skip


def test_a_placement_is_recorded_only_against_the_version_it_was_planned_at(store, local_config):
    first, second = submit(store, local_config), submit(store, local_config)
    where = {"each": [1000, 2**29, 6], "nodes": ["n3", "n3"]}
    assert admit(store, first, where, "0") == ("admitted", None)
    assert json.loads(store.redis.hget(keys.PLACEMENTS, first)) == where
    assert store.redis.get(keys.PLACEMENT_VERSION) == b"1"
    # Planned before the first one was written: refused, the job stays queued.
    assert admit(store, second, where, "0") == ("capacity", "placement")
    assert store.get(second)["status"] == "queued" and second in store.queues.ids("alpha")
    assert admit(store, second, {"each": [1000, 2**29, 6], "nodes": ["n1", "n2"]}, "1") == (
        "admitted", None)  # fmt: skip
    # The job's end gives its placement back with its reservation.
    fields = {"reason": "Failed", "message": "x", "finished_at": utcnow()}
    assert store.transition(first, JobStatus.FAILED, fields).applied
    assert store.redis.hget(keys.PLACEMENTS, first) is None
    assert store.redis.hget(keys.RESERVATIONS, first) is None
    assert store.redis.get(keys.PLACEMENT_VERSION) == b"3"
    assert store.redis.hget(keys.PLACEMENTS, second) is not None
