"""After Redis lost its data: the watcher's list seeds the job id counter above every id the
cluster still carries (a Lua max: never lowered), so new jobs never take a leftover
PyTorchJob's name, and reports the leftovers (no record owns them) instead of failing jobs.
Redis is real; the cluster is a fake list."""

import threading

import pytest

from queue_workers.kube import pytorchjob
from queue_workers.watcher.mirror import Mirror
from tests.integration.queue.test_store import submit
from wrapper.jobs import storage
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration


class FakeKube:
    def __init__(self, items):
        self.items = items

    def list_all(self, selector, backend=None):
        return self.items, "100"

    def get(self, namespace, name, backend=None):
        return None


def leftover(job_id, instance="tq", team="alpha"):
    return {"metadata": {
        "name": pytorchjob.pytorchjob_name(instance, job_id), "namespace": f"team-{team}",
        "labels": pytorchjob.trainq_labels(instance, team, job_id),
        "annotations": {pytorchjob.ANNOTATION_JOB_UID: "from-an-earlier-life"},
        "creationTimestamp": "2026-01-01T00:00:00Z"}, "status": {}}  # fmt: skip


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def test_ids_are_seeded_above_the_cluster_and_leftovers_reported(store, local_config):
    kube = FakeKube([leftover(7), leftover(41), leftover(3, instance="other")])
    Mirror(local_config, store, kube, threading.Event()).relist()
    assert int(store.redis.get(keys.JOB_ID_COUNTER)) == 41  # another instance's ids: not ours
    assert submit(store, local_config, name="fresh")["id"] == 42
    found = storage.leftovers(store.redis)
    assert sorted(found) == ["team-alpha/tq-41", "team-alpha/tq-7"]
    assert found["team-alpha/tq-7"]["job_id"] == 7
    assert storage.leftover_count(store.redis) == 2


def test_seeding_never_lowers_the_counter_and_owned_jobs_are_not_leftovers(store, local_config):
    for i in range(5):
        submit(store, local_config, name=f"j{i}")
    own = store.get(5)
    obj = leftover(5)
    obj["metadata"]["annotations"][pytorchjob.ANNOTATION_JOB_UID] = own["uid"]
    Mirror(local_config, store, FakeKube([obj, leftover(2)]), threading.Event()).relist()
    assert int(store.redis.get(keys.JOB_ID_COUNTER)) == 5
    assert store.seed_ids(3) == 5
    # Job 2 exists but the PyTorchJob named for it was made for another job: a leftover.
    assert sorted(storage.leftovers(store.redis)) == ["team-alpha/tq-2"]
    # The next list finds none: the report is replaced, not appended to.
    Mirror(local_config, store, FakeKube([obj]), threading.Event()).relist()
    assert storage.leftovers(store.redis) == {}
