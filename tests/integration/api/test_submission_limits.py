"""Per-team caps against a real Redis, through both submission surfaces: past a team's queued
jobs or its submission rate the answer is a 429 naming the cap with Retry-After, nothing is
written, other teams are not affected, and concurrent submissions never overshoot (the cap is
checked in the SUBMIT script that writes the job)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from wrapper.api.app import create_app
from wrapper.config import SubmissionLimits
from wrapper.redis import keys

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
BETA = {"Authorization": "Bearer beta-dev-token"}
TRAIN = {"metadata": {"algorithm": "intent-classification", "dataset_id": "d",
                      "train_data_version_hash": "h", "output_model_name": "m"}}  # fmt: skip


def job(name="capped"):
    return {"name": name, "image": "docker.io/library/busybox"}


def client_with(local_config, api_settings, scratch_url, **limits):
    config = local_config.model_copy(update={"submissions": SubmissionLimits(**limits)})
    return create_app(config, api_settings(scratch_url)).test_client()


def written(url) -> tuple:
    r = redis.Redis.from_url(url)
    records = len(list(r.scan_iter(keys.job_key("*"))))
    rq_jobs = len(list(r.scan_iter("rq:job:*")))
    return r.get(keys.JOB_ID_COUNTER), r.zcard(keys.team_jobs("alpha")), records, rq_jobs


def test_queued_jobs_cap_is_429_and_writes_nothing(local_config, api_settings, scratch_url):
    client = client_with(local_config, api_settings, scratch_url, max_queued_jobs=3)
    for i in range(3):
        accepted = client.post("/v1/teams/alpha/jobs", json=job(f"j{i}"), headers=ALPHA)
        assert accepted.status_code == 202
    before = written(scratch_url)
    refused = client.post("/v1/teams/alpha/jobs", json=job(), headers=ALPHA)
    assert refused.status_code == 429 and refused.mimetype == "application/problem+json"
    assert int(refused.headers["Retry-After"]) > 0
    assert "submissions.max_queued_jobs" in refused.get_json()["detail"]
    train = client.post("/v1/train", json=TRAIN, headers=ALPHA)
    assert train.status_code == 429 and "max_queued_jobs" in train.get_json()["detail"]
    assert written(scratch_url) == before
    # Another team's queue is its own.
    assert client.post("/v1/teams/beta/jobs", json=job(), headers=BETA).status_code == 202


def test_submission_rate_is_429_with_the_wait(local_config, api_settings, scratch_url):
    client = client_with(local_config, api_settings, scratch_url, per_minute=2, burst=2)
    assert client.post("/v1/train", json=TRAIN, headers=ALPHA).status_code == 200
    assert client.post("/v1/teams/alpha/jobs", json=job(), headers=ALPHA).status_code == 202
    before = written(scratch_url)
    refused = client.post("/v1/teams/alpha/jobs", json=job(), headers=ALPHA)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 30  # one token per 30 s
    assert "submissions.per_minute" in refused.get_json()["detail"]
    assert client.post("/v1/train", json=TRAIN, headers=ALPHA).status_code == 429
    assert written(scratch_url) == before
    assert client.post("/v1/teams/beta/jobs", json=job(), headers=BETA).status_code == 202


def test_a_replay_is_not_counted(local_config, api_settings, scratch_url):
    client = client_with(local_config, api_settings, scratch_url, per_minute=1, burst=1)
    headers = {**ALPHA, "Idempotency-Key": "once"}
    first = client.post("/v1/teams/alpha/jobs", json=job(), headers=headers)
    again = client.post("/v1/teams/alpha/jobs", json=job(), headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["id"] == first.get_json()["id"]


def test_concurrent_submissions_never_overshoot(local_config, api_settings, scratch_url):
    config = local_config.model_copy(
        update={"submissions": SubmissionLimits(max_queued_jobs=5, per_minute=1000)}
    )
    app = create_app(config, api_settings(scratch_url))

    def post(i):
        with app.test_client() as c:
            return c.post("/v1/teams/alpha/jobs", json=job(f"c{i}"), headers=ALPHA).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(post, range(24)))
    assert codes.count(202) == 5 and codes.count(429) == 19
    assert redis.Redis.from_url(scratch_url).zcard(keys.team_jobs("alpha")) == 5
