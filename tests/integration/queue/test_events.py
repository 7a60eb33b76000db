"""Job events against a real Redis: every status change the scripts make (SUBMIT, ADMIT,
TRANSITION) appends its event to the team's stream in the same step, a change that did not
happen appends none, the stream stays bounded, and `publish` writes the same entries."""

import pytest

from tests.support.admit import admit_next
from wrapper.api.schemas import JobRequest
from wrapper.events import UnknownEventType, publish
from wrapper.events.stream import latest_id, read
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration
S = JobStatus


@pytest.fixture
def store(private_redis, local_config):
    return JobStore(connect(private_redis.url), [t.name for t in local_config.teams],
                    max_events=100)  # fmt: skip


def submit(store, config, team="alpha", name="job"):
    body = {"name": name, "image": "docker.io/library/busybox"}
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    return store.submit(team, spec, None, f"digest-{name}")[0]


def test_each_transition_is_one_event_in_order(store, local_config):
    rec = submit(store, local_config, name="evented")
    job_id = rec["id"]
    assert admit_next(store, local_config, "alpha", 20) == ("alpha", job_id)
    assert store.transition(job_id, S.CREATED, {"reason": "PyTorchJobCreated"}).applied
    assert store.transition(job_id, S.CREATED, {"message": "refresh"}).applied  # no event
    assert store.transition(job_id, S.RUNNING, {"reason": "PyTorchJobRunning"}).applied
    # A compare-and-set that loses (the status is not the expected one) publishes nothing.
    assert not store.transition(job_id, S.SUCCEEDED, {}, expect={S.CREATED}).applied
    assert store.transition(job_id, S.QUEUED, {"reason": "Preempted", "message": "m"}).applied
    assert store.transition(job_id, S.SUSPENDED, {"reason": "Suspended"}).applied
    assert store.transition(job_id, S.QUEUED, {"reason": "Resumed"}).applied
    store.queues.requeue_in_place("alpha", job_id, 0)  # (what resuming does after it)
    assert admit_next(store, local_config, "alpha", 20) == ("alpha", job_id)
    assert store.transition(job_id, S.SUCCEEDED, {"reason": "PyTorchJobSucceeded"}).applied

    events = read(store.redis, "alpha", "0", None)
    assert [e.type for e in events] == [
        "job.queued", "job.admitted", "job.created", "job.running", "job.preempted",
        "job.suspended", "job.resumed", "job.admitted", "job.succeeded",
    ]  # fmt: skip
    statuses = [e.data["status"] for e in events]
    assert statuses == ["queued", "dispatching", "created", "running", "queued", "suspended",
                        "queued", "dispatching", "succeeded"]  # fmt: skip
    # Each event names the status it left: the one before it.
    assert [e.data["previous_status"] for e in events] == [None, *statuses[:-1]]
    assert all(e.job_id == job_id and e.team == "alpha" for e in events)
    assert all(e.data["id"] == job_id and e.data["name"] == "evented" for e in events)
    assert events[-1].data["reason"] == "PyTorchJobSucceeded"
    assert events[4].data["message"] == "m"
    assert all(e.data["time"].endswith("Z") for e in events)
    ids = [e.id for e in events]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))
    # Another team's stream has none of them.
    assert read(store.redis, "beta", "0", None) == []


def test_reading_after_an_id_gives_only_later_events(store, local_config):
    first = submit(store, local_config, name="a")
    mark = latest_id(store.redis, "alpha")
    second = submit(store, local_config, name="b")
    after = read(store.redis, "alpha", mark, None)
    assert [(e.type, e.job_id) for e in after] == [("job.queued", second["id"])]
    assert latest_id(store.redis, "gamma") == "0-0"
    assert first["id"] != second["id"]


def test_publish_from_python_and_unknown_types(store):
    event_id = publish(store.redis, "alpha", "job.stalled", 7, {"reason": "NoProgress"})
    (event,) = read(store.redis, "alpha", "0", None)
    assert event.id == event_id and event.type == "job.stalled" and event.job_id == 7
    assert event.data["reason"] == "NoProgress" and event.data["id"] == 7
    with pytest.raises(UnknownEventType):
        publish(store.redis, "alpha", "job.done", 7, {})
    with store.redis.pipeline() as pipe:
        assert publish(pipe, "alpha", "job.stalled", 8, {}) is None
        (added,) = pipe.execute()
    assert read(store.redis, "alpha", event_id, None)[0].id == added.decode()


def test_the_stream_is_bounded(store, local_config):
    for n in range(400):
        publish(store.redis, "alpha", "job.stalled", n, {}, max_len=100)
    submit(store, local_config, name="last")  # the scripts trim too (max_events=100)
    # MAXLEN ~ trims whole macro nodes (100 entries each by default): about the bound.
    assert 100 <= store.redis.xlen(keys.team_events("alpha")) <= 200
