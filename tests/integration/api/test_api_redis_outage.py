"""Redis stopped → 503 problem+json and nothing half written; after Redis restarts (its AOF
replayed) every job that got a 202 is there, queued, with its queue entry."""

import pytest
import redis
from rq.job import Job

from wrapper.api.app import create_app
from wrapper.redis import keys

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}


def test_redis_crash_gives_503_and_loses_nothing(private_redis, local_config, api_settings):
    app = create_app(local_config, api_settings(private_redis.url))
    client = app.test_client()
    accepted = []
    for i in range(5):
        body = {"name": f"keep-{i}", "image": "docker.io/library/busybox"}
        response = client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA)
        assert response.status_code == 202
        accepted.append(response.get_json()["id"])

    private_redis.crash()  # SIGKILL: no shutdown hook, only what the AOF already has
    body = {"name": "lost", "image": "docker.io/library/busybox"}
    down = client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA)
    assert down.status_code == 503
    assert down.mimetype == "application/problem+json"
    assert down.get_json()["status"] == 503 and "Traceback" not in down.get_data(as_text=True)
    assert client.get(f"/v1/teams/alpha/jobs/{accepted[0]}", headers=ALPHA).status_code == 503
    assert client.get("/v1/teams/alpha/queue", headers=ALPHA).status_code == 503

    private_redis.start()
    r = redis.Redis.from_url(private_redis.url)
    queue = client.get("/v1/teams/alpha/queue", headers=ALPHA)
    assert queue.status_code == 200
    assert [j["id"] for j in queue.get_json()["jobs"]] == accepted
    for job_id in accepted:
        record = client.get(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA).get_json()
        assert record["status"] == "queued"
        assert Job.fetch(str(job_id), connection=r).origin == "trainq-alpha"
    # Nothing half-written: every record has its RQ job and queue entry and vice versa.
    records = {int(k.split(b":")[-1]) for k in r.scan_iter(keys.job_key("*"))}
    rq_jobs = {int(k.split(b":")[-1]) for k in r.scan_iter("rq:job:*")}
    assert records == rq_jobs == set(accepted)
    # And it accepts work again.
    again = client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA)
    assert again.status_code == 202
