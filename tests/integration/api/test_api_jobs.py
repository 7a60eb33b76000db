"""The HTTP API on a real Redis (Flask test client; no cluster needed): submission, reads,
listing, the queue view, cancellation of queued jobs, idempotency and team isolation."""

import pytest
from prometheus_client import generate_latest

from tests.support.admit import admit_next
from wrapper.api import metrics
from wrapper.api.schemas import JobList, JobRecord, QueueView
from wrapper.jobs.states import JobStatus
from wrapper.redis import keys

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
BETA = {"Authorization": "Bearer beta-dev-token"}
ADMIN = {"Authorization": "Bearer admin-dev-token"}
JOB = {"name": "resnet", "image": "docker.io/library/busybox:1.36", "workers": 2}


def submit(client, body=None, headers=ALPHA, team="alpha"):
    response = client.post(f"/v1/teams/{team}/jobs", json=body or JOB, headers=headers)
    assert response.status_code == 202, response.get_json()
    return response


def test_submit_answers_202_with_record_and_location(client):
    response = submit(client, {**JOB, "env": {"LR": "0.1"}, "labels": {"project": "x"}})
    record = JobRecord.model_validate(response.get_json())  # the documented shape, exactly
    assert record.status == JobStatus.QUEUED and record.position == 0
    assert record.team == "alpha" and record.name == "resnet" and record.pytorchjob is None
    assert record.spec["workers"] == 2 and record.spec["env"] == {"LR": "0.1"}
    assert record.spec["resources"] == {"cpu": "1", "memory": "2Gi", "gpu": 0}  # defaults
    assert response.headers["Location"] == f"/v1/teams/alpha/jobs/{record.id}"
    fetched = client.get(response.headers["Location"], headers=ALPHA)
    assert fetched.status_code == 200
    # The 202 answer skips the admission plan (hot path); the read adds where the job stands.
    planned = ("global_position", "pending_reason", "eta_seconds", "message")
    posted, read = response.get_json(), fetched.get_json()
    assert all(posted[k] is None for k in planned if k != "message")
    assert {k: v for k, v in read.items() if k not in planned} == {
        k: v for k, v in posted.items() if k not in planned
    }
    assert read["pending_reason"] is None or isinstance(read["message"], str)


def test_list_and_queue_views(client):
    ids = [submit(client, {**JOB, "name": f"j{i}"}).get_json()["id"] for i in range(3)]
    urgent = submit(client, {**JOB, "name": "urgent", "priority": 10}).get_json()["id"]
    page = client.get("/v1/teams/alpha/jobs?limit=2", headers=ALPHA).get_json()
    JobList.model_validate(page)
    assert [i["id"] for i in page["items"]] == [urgent, ids[2]]
    rest = client.get(f"/v1/teams/alpha/jobs?cursor={page['next_cursor']}", headers=ALPHA)
    assert [i["id"] for i in rest.get_json()["items"]] == [ids[1], ids[0]]
    assert rest.get_json()["next_cursor"] is None
    queue = client.get("/v1/teams/alpha/queue", headers=ALPHA).get_json()
    QueueView.model_validate(queue)
    assert queue["team"] == "alpha" and queue["queued"] == 4 and queue["running"] == 0
    assert [(j["id"], j["position"]) for j in queue["jobs"]] == [
        (urgent, 0), (ids[0], 1), (ids[1], 2), (ids[2], 3),
    ]  # fmt: skip
    assert queue["jobs"][0]["priority"] == 10
    record = client.get(f"/v1/teams/alpha/jobs/{ids[2]}", headers=ALPHA).get_json()
    assert record["position"] == 3


def test_cancel_queued_job_at_once_and_repeat_is_harmless(client, store):
    job_id = submit(client).get_json()["id"]
    response = client.delete(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "cancelled" and body["finished_at"] and body["position"] is None
    assert body["message"] == "cancelled by team alpha"
    assert job_id not in store.queues.ids("alpha")
    assert client.get("/v1/teams/alpha/queue", headers=ALPHA).get_json()["queued"] == 0
    again = client.delete(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA)
    assert again.status_code == 202 and again.get_json()["status"] == "cancelled"


def test_cancel_dispatched_job_marks_cancelling_and_wakes_the_canceller(
    client, store, local_config
):
    job_id = submit(client).get_json()["id"]
    admit_next(store, local_config, "alpha", lease_seconds=30)
    response = client.delete(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA)
    assert response.status_code == 202 and response.get_json()["status"] == "cancelling"
    assert store.redis.lrange(keys.CANCEL_REQUESTS, 0, -1) == [str(job_id).encode()]
    assert store.redis.zscore(keys.DISPATCH_LEASES, job_id) is None  # no re-dispatch now


def test_cancel_finished_job_is_409(client, store, local_config):
    job_id = submit(client).get_json()["id"]
    admit_next(store, local_config, "alpha", lease_seconds=30)
    assert store.transition(job_id, JobStatus.SUCCEEDED).applied
    response = client.delete(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA)
    assert response.status_code == 409 and response.mimetype == "application/problem+json"


def test_team_isolation(client):
    job_id = submit(client).get_json()["id"]
    for method, path in [
        ("get", f"/v1/teams/alpha/jobs/{job_id}"),
        ("delete", f"/v1/teams/alpha/jobs/{job_id}"),
        ("get", "/v1/teams/alpha/jobs"),
        ("get", "/v1/teams/alpha/queue"),
    ]:
        response = getattr(client, method)(path, headers=BETA)
        assert response.status_code == 404, (method, path)
    # Beta's own path with alpha's job id: 404 too (the job is not beta's).
    assert client.get(f"/v1/teams/beta/jobs/{job_id}", headers=BETA).status_code == 404
    assert client.get(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA).get_json()["status"] == (
        "queued"
    )
    assert client.get(f"/v1/teams/alpha/jobs/{job_id}", headers=ADMIN).status_code == 200


def test_idempotency_key(client, store):
    headers = {**ALPHA, "Idempotency-Key": "nightly-2026-01-01"}
    first = submit(client, headers=headers)
    again = submit(client, headers=headers)
    assert again.get_json()["id"] == first.get_json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    other = client.post("/v1/teams/alpha/jobs", json={**JOB, "workers": 3}, headers=headers)
    assert other.status_code == 422
    assert other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert store.queues.ids("alpha") == [first.get_json()["id"]]  # exactly one job


def test_metrics_count_submissions(client, store):
    submit(client)
    # What the metrics port serves (metrics.serve); the API's own port has no /metrics.
    text = generate_latest(metrics.exposition(store.redis)).decode()
    assert 'trainq_job_submissions_total{team="alpha"}' in text
