"""A dispatched job whose replicas were not all running in time (wrapper.admission.readiness):
back to the front of its team queue with reason PodsNotReady, its reservation and placement
given back in the same step, a backoff entry the next snapshot reads, its re-queues counted;
after `pods_ready_requeues` re-queues the next timeout fails it."""

import dataclasses
import json
import time

import pytest

from wrapper.admission import WAITING_FOR_BACKOFF, explain, readiness
from wrapper.admission.resources import Res
from wrapper.admission.store import AdmissionStore
from wrapper.api.schemas import JobRequest
from wrapper.clock import utcnow
from wrapper.config import AdmissionSettings
from wrapper.jobs.states import JobStatus as S
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys, scripts

pytestmark = pytest.mark.integration
ROOM = (10**9, 2**60, 10**6)
SETTINGS = AdmissionSettings(pods_ready_timeout_seconds=5, pods_ready_backoff_seconds=10,
                             pods_ready_backoff_max_seconds=25, pods_ready_requeues=2)  # fmt: skip


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def submit(store, config, name="gang") -> int:
    body = {"name": name, "image": "docker.io/library/busybox", "workers": 1,
            "resources": {"cpu": "1", "memory": "1Gi", "gpu": 2}}  # fmt: skip
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    return store.submit("alpha", spec, None, "")[0]["id"]


def admit(store, job_id: int) -> None:
    """ADMIT as a worker does, with a placement (the nodes known)."""
    now = time.time()
    where = {"each": [1000, 2**30, 2], "nodes": ["n1", "n2"]}
    outcome = scripts.Admit(store.redis)(
        team="alpha", job_id=job_id, queue_key=keys.team_queue("alpha"),
        queued=S.QUEUED.value, dispatching=S.DISPATCHING.value, lease_deadline=now + 30,
        admitted_at=json.dumps(utcnow()), demand=(2000, 2**31, 4), team_limit=ROOM,
        max_jobs=100, capacity=ROOM, sharing=["alpha"], now=now, events_since=now - 60,
        wake_another=False, placement=json.dumps(where),
        placement_version=(store.redis.get(keys.PLACEMENT_VERSION) or b"0").decode(),
    )  # fmt: skip
    assert outcome == ("admitted", None)


def running_half_placed(store, job_id: int) -> dict:
    """Dispatched, its Master running and its Worker pending; admitted 60 s ago."""
    replicas = {"Master": {"active": 1, "succeeded": 0, "failed": 0},
                "Worker": {"active": 0, "succeeded": 0, "failed": 0}}  # fmt: skip
    assert store.transition(job_id, S.CREATED).applied
    assert store.transition(job_id, S.RUNNING, {"replicas": replicas}).applied
    store.redis.hset(keys.job_key(job_id), "admitted_at", json.dumps("2020-01-01T00:00:00.000Z"))
    return store.get(job_id)


def usage(store) -> dict:
    return {k.decode(): int(v) for k, v in store.redis.hgetall(keys.team_usage("alpha")).items()
            if k != b"last_admitted"}  # fmt: skip


def test_a_job_whose_pods_were_not_ready_goes_back_to_the_front_of_its_queue(store, local_config):
    job_id, behind = submit(store, local_config), submit(store, local_config, "behind")
    admit(store, job_id)
    assert usage(store) == {"cpu": 2000, "memory": 2**31, "gpu": 4, "jobs": 1}
    record = running_half_placed(store, job_id)
    assert readiness.overdue(record, time.time(), SETTINGS.pods_ready_timeout_seconds)
    version = store.redis.get(keys.ADMISSION_VERSION)
    now = time.time()

    assert readiness.requeue(store, record, SETTINGS, now=now)

    after = store.get(job_id)
    assert after["status"] == "queued" and after["reason"] == "PodsNotReady"
    assert after["requeues"] == 1 and after["ready_at"] is None
    assert after["replicas"]["Master"]["active"] == 0  # (its pods are going)
    assert after["message"].startswith(
        "1 of 2 replicas were running 5s after admission; re-queued (1 of 2), tries again in 10s"
    )
    assert store.queues.ids("alpha") == [job_id, behind]  # at the front
    assert store.ids_with_status(S.QUEUED) == [job_id, behind]
    assert store.ids_with_status(S.RUNNING) == [] and store.running_count("alpha") == 0
    # Reservation and placement given back in the same step; the views are redone.
    assert usage(store) == {"cpu": 0, "memory": 0, "gpu": 0, "jobs": 0}
    assert store.reserved_ids() == [] and store.redis.hget(keys.PLACEMENTS, job_id) is None
    assert store.redis.get(keys.ADMISSION_VERSION) != version
    assert store.redis.zscore(keys.ADMISSION_BACKOFF, job_id) == pytest.approx(now + 10)
    # The next snapshot reads the backoff: the job waits, the one behind it is admissible.
    state, _ = AdmissionStore(store, local_config).load()
    assert state.backoff == {job_id: pytest.approx(now + 10)}
    plan = explain(dataclasses.replace(state, capacity=Res(*ROOM)))  # (no nodes cached here)
    assert plan.pending[job_id].reason == WAITING_FOR_BACKOFF
    assert [a.job_id for a in plan.admit] == [behind]
    # A requeue of a job no longer guarded does nothing.
    assert not readiness.requeue(store, after, SETTINGS)


def test_the_backoff_doubles_and_after_the_requeues_the_next_timeout_fails_it(store, local_config):
    job_id = submit(store, local_config)
    waits = []
    for n in (1, 2):
        store.redis.zrem(keys.ADMISSION_BACKOFF, job_id)  # (as if it were due)
        admit(store, job_id)
        record = running_half_placed(store, job_id)
        assert record.get("requeues", 0) == n - 1 and not readiness.gives_up(record, SETTINGS)
        now = time.time()
        assert readiness.requeue(store, record, SETTINGS, now=now)
        waits.append(store.redis.zscore(keys.ADMISSION_BACKOFF, job_id) - now)
    assert waits == [pytest.approx(10), pytest.approx(20)]
    assert readiness.backoff_seconds(3, SETTINGS) == 25  # capped

    store.redis.zrem(keys.ADMISSION_BACKOFF, job_id)
    admit(store, job_id)
    record = running_half_placed(store, job_id)
    assert readiness.gives_up(record, SETTINGS)
    assert readiness.fail(store, record, SETTINGS)
    failed = store.get(job_id)
    assert failed["status"] == "failed" and failed["reason"] == "PodsNotReady"
    assert failed["message"] == ("never had all its replicas running within 5s of admission "
                                 "after 2 re-queues (1 of 2 replicas running)")  # fmt: skip
    assert store.queues.ids("alpha") == [] and store.running_count("alpha") == 0


def test_a_job_past_the_guard_is_never_overdue(store, local_config):
    job_id = submit(store, local_config)
    admit(store, job_id)
    record = running_half_placed(store, job_id)
    now, timeout = time.time(), SETTINGS.pods_ready_timeout_seconds
    assert readiness.overdue(record, now, timeout)
    assert not readiness.overdue({**record, "ready_at": utcnow()}, now, timeout)  # all ran once
    finished = {"Master": {"active": 0, "succeeded": 1, "failed": 0},
                "Worker": {"active": 0, "succeeded": 0, "failed": 0}}  # fmt: skip
    assert not readiness.overdue({**record, "replicas": finished}, now, timeout)
    both = {"Master": {"active": 1, "succeeded": 0, "failed": 0},
            "Worker": {"active": 1, "succeeded": 0, "failed": 0}}  # fmt: skip
    assert not readiness.overdue({**record, "replicas": both}, now, timeout)
    assert not readiness.overdue({**record, "admitted_at": utcnow()}, now, timeout)  # in time


def test_cancelling_a_requeued_job_has_the_watcher_delete_its_suspended_pytorchjob(
    store, local_config
):
    from wrapper.jobs.cancellation import cancel

    job_id, fresh = submit(store, local_config), submit(store, local_config, "fresh")
    admit(store, job_id)
    running_half_placed(store, job_id)
    store.redis.hset(keys.job_key(job_id), "pytorchjob",
                     json.dumps({"namespace": "team-alpha", "name": f"tq-{job_id}"}))  # fmt: skip
    assert readiness.requeue(store, store.get(job_id), SETTINGS)
    store.redis.delete(keys.CANCEL_REQUESTS)
    assert cancel(store, store.get(job_id), "team alpha")
    assert store.get(job_id)["status"] == "cancelling"
    assert store.queues.ids("alpha") == [fresh]
    assert store.redis.lrange(keys.CANCEL_REQUESTS, 0, -1) == [str(job_id).encode()]
    # A queued job that never had a PyTorchJob still ends at once.
    assert cancel(store, store.get(fresh), "team alpha")
    assert store.get(fresh)["status"] == "cancelled"
