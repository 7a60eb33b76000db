"""A job re-admitted after a preemption or a node loss is `dispatching` while its PyTorchJob is
still suspended: the mirror leaves it to the dispatch, which adopts and resumes it (CI once saw
the mirror take it as `created`, the dispatch then do nothing, and the job wait for ever).
Redis is real; the PyTorchJob is a dict as the watch delivers it."""

import threading

import pytest

from queue_workers.kube import pytorchjob
from queue_workers.watcher.mirror import Mirror
from tests.integration.queue.test_store import submit
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect

pytestmark = pytest.mark.integration


class NoKube:
    """The mirror's only call for a live PyTorchJob here is its peers' NetworkPolicy."""

    def create_network_policy(self, policy):
        return None


def pytorchjob_of(record: dict, instance: str, suspended: bool) -> dict:
    return {
        "metadata": {
            "name": pytorchjob.pytorchjob_name(instance, record["id"]), "uid": "u-1",
            "namespace": "team-alpha",
            "labels": pytorchjob.trainq_labels(instance, "alpha", record["id"]),
            "annotations": {pytorchjob.ANNOTATION_JOB_UID: record["uid"]},
        },
        "spec": {"runPolicy": {"suspend": suspended}},
        "status": {"conditions": [{"type": "Created", "status": "True",
                                   "reason": "PyTorchJobCreated", "message": "created"}]},
    }  # fmt: skip


@pytest.fixture
def store(scratch_url, local_config):
    return JobStore(connect(scratch_url), [t.name for t in local_config.teams])


def test_a_suspended_pytorchjob_of_a_dispatching_job_is_left_to_its_dispatch(store, local_config):
    record = submit(store, local_config, name="readmitted")
    assert store.transition(record["id"], JobStatus.DISPATCHING, {}).applied
    record = store.get(record["id"])
    mirror = Mirror(local_config, store, NoKube(), threading.Event())

    assert mirror.apply(pytorchjob_of(record, local_config.instance, suspended=True))
    assert store.get(record["id"])["status"] == JobStatus.DISPATCHING

    # Resumed (by the dispatch): now the mirror follows it.
    assert mirror.apply(pytorchjob_of(record, local_config.instance, suspended=False))
    assert store.get(record["id"])["status"] == JobStatus.CREATED
