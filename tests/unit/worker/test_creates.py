"""A worker's create runs beside its next claim (dispatch.Creates): the RQ job hands it off,
at most one is in flight per worker, what it ends in is counted once, and an error in it is
logged and counted, never raised into the next job or lost."""

import threading

import redis
from prometheus_client import REGISTRY

from queue_workers.worker.dispatch import HANDED_OFF, Context, Creates, dispatch
from tests.unit.conftest import record as make_record
from tests.unit.worker.test_dispatch import FakeKube, FakeStore
from wrapper.jobs.states import JobStatus


def attempts(result: str) -> float:
    value = REGISTRY.get_sample_value("trainq_dispatch_attempts_total", {"result": result})
    return value or 0.0


class SlowKube(FakeKube):
    """Creates wait for `gate`; counts how many were in flight at once."""

    def __init__(self):
        super().__init__()
        self.gate, self.lock = threading.Event(), threading.Lock()
        self.in_flight = self.most = 0

    def create_or_adopt(self, *args, **kwargs):
        with self.lock:
            self.in_flight += 1
            self.most = max(self.most, self.in_flight)
        self.gate.wait(10)
        with self.lock:
            self.in_flight -= 1
        return super().create_or_adopt(*args, **kwargs)


def test_the_create_is_handed_off_and_the_job_recorded_created_when_it_ends(config):
    record = make_record()
    store, kube, creates = FakeStore({**record, "attempts": 1}), SlowKube(), Creates()
    before = attempts("created")
    assert dispatch(Context(config, store, kube, creates=creates), record["id"]) == HANDED_OFF
    assert store.transitions == []  # the create is still waiting
    kube.gate.set()
    creates.wait()
    assert [t for t, _ in store.transitions] == [JobStatus.CREATED]
    assert len(kube.created) == 1 and attempts("created") == before + 1


def test_a_worker_never_has_two_creates_in_flight(config):
    kube, creates = SlowKube(), Creates()
    stores = [FakeStore({**make_record(job_id=i), "attempts": 1}) for i in (1, 2, 3)]
    handing = threading.Thread(target=lambda: [
        dispatch(Context(config, s, kube, creates=creates), i)
        for i, s in zip((1, 2, 3), stores, strict=True)])  # fmt: skip
    handing.start()
    handing.join(0.5)
    assert handing.is_alive()  # the second hand-off waits for the first create
    assert kube.in_flight == 1
    kube.gate.set()
    handing.join(10)
    creates.wait()
    assert kube.most == 1 and len(kube.created) == 3
    assert all(s.record["status"] == "created" for s in stores)


def test_an_error_in_a_create_is_counted_and_logged_not_raised(config, caplog):
    class Unrecorded(FakeStore):  # Redis gone between the create and its record
        def transition(self, *args, **kwargs):
            raise redis.exceptions.ConnectionError("Redis went away")

    record = make_record()
    store, kube, creates = Unrecorded({**record, "attempts": 1}), FakeKube(), Creates()
    before = attempts("error")
    assert dispatch(Context(config, store, kube, creates=creates), record["id"]) == HANDED_OFF
    creates.wait()  # does not raise
    assert len(kube.created) == 1 and attempts("error") == before + 1
    assert "its lease re-dispatches it" in caplog.text
    assert store.record["status"] == "dispatching"  # left to the lease, as after a crash
