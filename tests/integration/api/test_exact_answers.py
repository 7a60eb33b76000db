"""Exact answers when a reply is lost: SUBMIT may run and its reply never arrive (a socket
timeout after the command was sent). The submission resolves its outcome by its nonce before
answering: a job that was queued is answered 202 with that job (a client that retries after a
503 would otherwise queue it twice); one that was not is voided, so a SUBMIT still in flight
can never run later, and only then is the answer "nothing was changed". /v1/train takes an
Idempotency-Key too."""

import pytest
import redis

from tests.support import free_port
from wrapper.api.app import create_app
from wrapper.redis import connect, keys, scripts
from wrapper.redis.scripts import submit as submit_script

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
JOB = {"name": "exact", "image": "docker.io/library/busybox"}
TRAIN = {"metadata": {"algorithm": "intent-classification", "dataset_id": "d",
                      "train_data_version_hash": "h", "output_model_name": "m"}}  # fmt: skip


class LosesReplies(redis.Redis):
    """A client whose EVALSHA replies are lost: after the script ran ('after') or before it
    was sent ('before')."""

    when = "after"
    sent: list = []

    def evalsha(self, *args):
        if self.when == "before":
            self.sent.append(args)
            raise redis.exceptions.TimeoutError("Timeout writing to socket")
        super().evalsha(*args)
        raise redis.exceptions.TimeoutError("Timeout reading from socket")


@pytest.fixture
def lossy(local_config, api_settings, scratch_url):
    app = create_app(local_config, api_settings(scratch_url))
    store = app.extensions["trainq"].store
    lossy_client = LosesReplies.from_url(scratch_url)
    store._submit = scripts.Submit(lossy_client)
    return app, lossy_client, redis.Redis.from_url(scratch_url)


def test_a_lost_reply_of_a_submit_that_ran_is_answered_with_its_job(lossy):
    app, lossy_client, r = lossy
    lossy_client.when = "after"
    client = app.test_client()
    response = client.post("/v1/teams/alpha/jobs", json=JOB, headers=ALPHA)
    assert response.status_code == 202, response.get_data(as_text=True)
    job = response.get_json()
    assert job["status"] == "queued" and job["name"] == "exact"
    assert r.zrange(keys.team_jobs("alpha"), 0, -1) == [str(job["id"]).encode()]
    assert response.headers["Location"].endswith(f"/v1/teams/alpha/jobs/{job['id']}")
    train = client.post("/v1/train", json=TRAIN, headers=ALPHA)
    assert train.status_code == 200 and train.get_json()["job_id"] == job["id"] + 1


def test_a_submit_that_never_ran_is_voided_and_answered_nothing_changed(lossy):
    app, lossy_client, r = lossy
    lossy_client.when, lossy_client.sent = "before", []
    response = app.test_client().post("/v1/teams/alpha/jobs", json=JOB, headers=ALPHA)
    assert response.status_code == 503
    assert "nothing was changed" in response.get_json()["detail"]
    assert r.get(keys.JOB_ID_COUNTER) is None
    # The very command, arriving late, refuses to run: the 503 stays true.
    (args,) = lossy_client.sent
    r.script_load(submit_script.LUA)
    assert redis.Redis.evalsha(r, *args)[0] == b"void"
    assert r.get(keys.JOB_ID_COUNTER) is None and r.zcard(keys.team_jobs("alpha")) == 0


def test_train_takes_an_idempotency_key(local_config, api_settings, scratch_url):
    client = create_app(local_config, api_settings(scratch_url)).test_client()
    headers = {**ALPHA, "Idempotency-Key": "train-once"}
    first = client.post("/v1/train", json=TRAIN, headers=headers)
    again = client.post("/v1/train", json=TRAIN, headers=headers)
    assert first.status_code == again.status_code == 200
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = {"metadata": {**TRAIN["metadata"], "output_model_name": "other"}}
    conflict = client.post("/v1/train", json=other, headers=headers)
    assert conflict.status_code == 422
    assert conflict.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert redis.Redis.from_url(scratch_url).zcard(keys.team_jobs("alpha")) == 1


def test_an_outcome_redis_never_confirms_is_answered_unknown(lossy, monkeypatch):
    app, lossy_client, r = lossy
    lossy_client.when = "after"
    store = app.extensions["trainq"].store
    monkeypatch.setattr("wrapper.jobs.store.RESOLVE_SECONDS", 0.3)
    store.redis = connect(f"redis://127.0.0.1:{free_port()}/0")  # gone for the read-back
    response = app.test_client().post("/v1/teams/alpha/jobs", json=JOB, headers=ALPHA)
    assert response.status_code == 503
    problem = response.get_json()
    assert problem["type"].endswith("/outcome-unknown") and "unknown" in problem["detail"]
    assert r.zcard(keys.team_jobs("alpha")) == 1  # it had run: "nothing changed" would lie
