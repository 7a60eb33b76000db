"""Events for frontends on a whole stack (gunicorn API, an RQ worker, the watcher, a private
Redis, the real control plane): a real job's transitions over Server-Sent Events through to
`succeeded`, a dropped stream resumed with Last-Event-ID getting exactly the events it missed,
team scoping, and the completion webhook delivered to a real receiver that verifies its
signature, answering 500 first, with the attempts on the job record."""

import pytest
import requests
import yaml

from tests.support import LOCAL_CONFIG, wait_until
from tests.support.events import EventStream, Receiver
from tests.support.redis_server import PrivateRedis
from tests.support.stack import TOKENS, Stack, job_body, unique

pytestmark = pytest.mark.integration
SECRET_ENV = "TRAINQ_TEST_WEBHOOK_SECRET"
SECRET = b"frontend-webhook-secret"


@pytest.fixture(scope="module")
def receiver():
    r = Receiver(SECRET, failures=2)
    yield r
    r.close()


@pytest.fixture(scope="module")
def events_stack(tmp_path_factory, kubeconfig, kube_api, receiver):
    directory = tmp_path_factory.mktemp("events")
    redis_server = PrivateRedis(directory / "redis")
    redis_server.start()
    teams = yaml.safe_load(LOCAL_CONFIG.read_text())["teams"]
    for team in teams:
        if team["name"] == "alpha":
            team["webhooks"] = [{"url": receiver.url, "secret_env": SECRET_ENV,
                                 "events": ["job.succeeded", "job.failed"]}]  # fmt: skip
    stack = Stack(directory / "stack", redis_server.url, kubeconfig, teams=teams,
                  events={"webhook_backoff_base_seconds": 0.5,
                          "webhook_backoff_max_seconds": 1.0, "keepalive_seconds": 2})  # fmt: skip
    try:
        stack.start_api()
        stack.start_worker("w1")
        stack.start_watcher(extra_env={SECRET_ENV: SECRET.decode()})
        yield stack
    finally:
        stack.close()
        redis_server.stop()


def _succeeded(job_id):
    return lambda f: f.event == "job.succeeded" and f.data["job_id"] == job_id


def test_a_real_job_over_sse_and_a_dropped_stream_resumed(events_stack):
    api = events_stack.api
    first = EventStream(api.base, "alpha", TOKENS["alpha"])  # from now on
    job_id = api.submit_ok("alpha", job_body(unique("sse")))["id"]
    seen = first.events_until(lambda f: f.event == "job.admitted")
    first.close()  # dropped mid-job
    assert [f.event for f in seen] == ["job.queued", "job.admitted"]
    api.wait_status("alpha", job_id, "succeeded", timeout=90)

    resumed = EventStream(api.base, "alpha", TOKENS["alpha"], last_event_id=seen[-1].id)
    missed = resumed.events_until(_succeeded(job_id))
    resumed.close()
    everything = EventStream(api.base, "alpha", TOKENS["alpha"], since="0")
    full = everything.events_until(_succeeded(job_id))
    everything.close()
    # Exactly what the dropped stream had not got: nothing twice, nothing lost.
    assert [f.id for f in full] == [f.id for f in seen + missed]
    assert full == seen + missed

    mine = [f for f in full if f.data["job_id"] == job_id]
    types = [f.event for f in mine]
    assert types[:3] == ["job.queued", "job.admitted", "job.created"], types
    assert types[-1] == "job.succeeded" and "job.running" in types, types
    statuses = [f.data["data"]["status"] for f in mine]
    assert [f.data["data"]["previous_status"] for f in mine] == [None, *statuses[:-1]]
    for f in mine:  # the SSE id is the event's id; the JSON is the event
        assert f.data["id"] == f.id and f.data["type"] == f.event and f.data["team"] == "alpha"


def test_streams_are_scoped_to_the_team(events_stack):
    base = events_stack.api.base

    def get(team, token=None, **kw):
        headers = {"Authorization": f"Bearer {TOKENS[token]}"} if token else {}
        headers.update(kw.pop("headers", {}))
        return requests.get(f"{base}/v1/teams/{team}/events", headers=headers, timeout=10,
                            stream=True, **kw)  # fmt: skip

    other = get("alpha", "beta")
    assert other.status_code == 404 and other.json()["status"] == 404
    assert get("nonexistent", "beta").json() == other.json()  # the same 404
    assert get("alpha").status_code == 401
    bad = get("alpha", "alpha", headers={"Last-Event-ID": "yesterday"})
    assert bad.status_code == 422
    assert bad.headers["Content-Type"] == "application/problem+json"
    assert bad.json()["errors"][0]["field"] == "Last-Event-ID"
    assert get("alpha", "alpha", params={"since": "x"}).json()["errors"][0]["field"] == "since"
    admin = get("alpha", "admin")
    assert admin.status_code == 200 and admin.headers["Content-Type"].startswith(
        "text/event-stream")  # fmt: skip
    admin.close()


def test_completion_webhook_signed_retried_and_on_the_record(events_stack, receiver):
    api = events_stack.api
    job_id = api.submit_ok("alpha", job_body(unique("hook")))["id"]
    api.wait_status("alpha", job_id, "succeeded", timeout=90)

    def delivered():
        got = [r for r in receiver.snapshot() if r.event["job_id"] == job_id]
        return got if any(r.answered == 200 for r in got) else None

    got = wait_until("the webhook delivered", delivered, timeout=30)
    assert [r.answered for r in got] == [500, 500, 200]
    assert all(r.signed for r in got)
    assert {r.event["type"] for r in got} == {"job.succeeded"}
    assert len({r.headers["Trainq-Event-Id"] for r in got}) == 1

    def noted():
        notes = api.record("alpha", job_id)["webhook_deliveries"]
        return notes if notes and notes[-1]["outcome"] == "delivered" else None

    notes = wait_until("the attempts on the record", noted, timeout=10)
    assert [(n["attempt"], n["status_code"], n["outcome"]) for n in notes] == [
        (1, 500, "retrying"), (2, 500, "retrying"), (3, 200, "delivered")]  # fmt: skip
    assert {n["event_id"] for n in notes} == {got[0].headers["Trainq-Event-Id"]}
    # Another team's job record never shows alpha's hook (beta has none).
    beta_id = api.submit_ok("beta", job_body(unique("nohook")))["id"]
    api.wait_status("beta", beta_id, "succeeded", timeout=90)
    assert api.record("beta", beta_id)["webhook_deliveries"] == []
