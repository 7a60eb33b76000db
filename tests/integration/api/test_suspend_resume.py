"""Suspend and resume through the API on a real Redis: a suspended job leaves its queue and
holds nothing, resuming puts it back at the place it had, repeats are harmless, and every
illegal move is a 409 problem+json that changes nothing. (The PyTorchJob side, suspended by
the watcher and resumed by dispatch, is tests/integration/dispatch/test_suspend.py.)"""

import pytest

from tests.support.admit import admit_next
from wrapper.jobs.states import JobStatus
from wrapper.redis import keys

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
BETA = {"Authorization": "Bearer beta-dev-token"}
JOBS = "/v1/teams/alpha/jobs"


def submit(client, name, **fields):
    body = {"name": name, "image": "docker.io/library/busybox", **fields}
    response = client.post(JOBS, json=body, headers=ALPHA)
    assert response.status_code == 202
    return response.get_json()["id"]


def act(client, job_id, action, headers=ALPHA):
    return client.post(f"{JOBS}/{job_id}/{action}", headers=headers)


def test_a_suspended_job_leaves_its_queue_and_comes_back_to_its_place(client, store):
    a, b, c = (submit(client, n) for n in "abc")
    response = act(client, b, "suspend")
    body = response.get_json()
    assert response.status_code == 202 and body["status"] == "suspended"
    assert body["message"] == "suspended by team alpha" and body["position"] is None
    assert store.queues.ids("alpha") == [a, c]
    queue = client.get("/v1/teams/alpha/queue", headers=ALPHA).get_json()
    assert [j["id"] for j in queue["jobs"]] == [a, c] and queue["queued"] == 2
    assert act(client, b, "suspend").status_code == 202  # again: harmless
    listed = client.get(f"{JOBS}?status=suspended", headers=ALPHA).get_json()["items"]
    assert [j["id"] for j in listed] == [b]
    resumed = act(client, b, "resume")
    assert resumed.status_code == 202 and resumed.get_json()["status"] == "queued"
    assert resumed.get_json()["position"] == 1  # where it was: priority, then id
    assert store.queues.ids("alpha") == [a, b, c]
    assert act(client, b, "resume").status_code == 202  # queued already: harmless
    assert store.queues.ids("alpha") == [a, b, c]


def test_suspending_a_dispatched_job_gives_its_reservation_back(client, store, local_config):
    job_id = submit(client, "running")
    assert admit_next(store, local_config, "alpha", lease_seconds=30) == ("alpha", job_id)
    assert store.transition(job_id, JobStatus.CREATED, {"pytorchjob": {
        "namespace": "team-alpha", "name": f"tq-{job_id}"}}).applied  # fmt: skip
    assert store.redis.hexists(keys.RESERVATIONS, job_id)
    response = act(client, job_id, "suspend")
    assert response.status_code == 202 and response.get_json()["status"] == "suspended"
    assert not store.redis.hexists(keys.RESERVATIONS, job_id)
    assert store.running_count("alpha") == 0
    record = store.get(job_id)
    assert record["suspensions"] == 1 and record["pytorchjob_suspended"] is None
    assert act(client, job_id, "resume").get_json()["status"] == "queued"
    assert store.queues.ids("alpha") == [job_id]


@pytest.mark.parametrize(
    ("setup", "action", "words"),
    [("dispatching", "suspend", "while dispatching"), ("cancelled", "suspend", "while cancelled"),
     ("running", "resume", "while running"), ("cancelled", "resume", "while cancelled")],
)  # fmt: skip
def test_illegal_moves_are_409_and_change_nothing(client, store, local_config, setup, action,
                                                  words):  # fmt: skip
    job_id = submit(client, "j")
    if setup in ("dispatching", "running"):
        admit_next(store, local_config, "alpha", lease_seconds=30)
    if setup == "running":
        assert store.transition(job_id, JobStatus.RUNNING).applied
    if setup == "cancelled":
        assert client.delete(f"{JOBS}/{job_id}", headers=ALPHA).status_code == 202
    before = store.get(job_id)
    response = act(client, job_id, action)
    assert response.status_code == 409
    assert response.content_type == "application/problem+json"
    assert words in response.get_json()["detail"]
    assert store.get(job_id) == before


def test_another_team_s_job_is_404_and_a_suspended_job_can_be_cancelled(client, store):
    job_id = submit(client, "mine")
    assert act(client, job_id, "suspend", headers=BETA).status_code == 404
    assert act(client, job_id, "resume", headers=BETA).status_code == 404
    assert act(client, job_id, "suspend").status_code == 202
    cancelled = client.delete(f"{JOBS}/{job_id}", headers=ALPHA)
    assert cancelled.status_code == 202 and cancelled.get_json()["status"] == "cancelled"
    assert act(client, job_id, "resume").status_code == 409
