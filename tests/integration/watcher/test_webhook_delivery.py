"""The watcher's webhook delivery (queue_workers.watcher.webhooks) against a real Redis and a
real HTTP receiver that verifies every signature: retries after 500s with backoff, giving up
after the configured attempts, every attempt noted on the job's record, and a restarted
watcher carrying on where the last one stopped (at-least-once, one event id throughout)."""

import threading
import time

import pytest
import yaml

from queue_workers.watcher.webhooks import WebhookDelivery
from tests.support import LOCAL_CONFIG, wait_until
from tests.support.events import Receiver
from wrapper.api.schemas import JobRequest
from wrapper.config import TrainqConfig
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = pytest.mark.integration
SECRET_ENV = "TRAINQ_TEST_WEBHOOK_SECRET"
SECRET = b"test-webhook-secret"


@pytest.fixture
def receiver():
    r = Receiver(SECRET)
    yield r
    r.close()


@pytest.fixture(autouse=True)
def secret(monkeypatch):
    monkeypatch.setenv(SECRET_ENV, SECRET.decode())


def config_with_hook(url: str, attempts: int = 8) -> TrainqConfig:
    raw = yaml.safe_load(LOCAL_CONFIG.read_text())
    for team in raw["teams"]:
        if team["name"] == "alpha":
            team["webhooks"] = [{"url": url, "secret_env": SECRET_ENV,
                                 "events": ["job.succeeded", "job.failed"]}]  # fmt: skip
    raw["events"] = {"webhook_max_attempts": attempts, "webhook_backoff_base_seconds": 0.2,
                     "webhook_backoff_max_seconds": 0.5}  # fmt: skip
    return TrainqConfig.model_validate(raw)


def finished_job(store, config, name="hooked", status=JobStatus.FAILED) -> int:
    body = {"name": name, "image": "docker.io/library/busybox"}
    spec = JobRequest.model_validate(body, context={"config": config}).to_spec(config)
    job_id = store.submit("alpha", spec, None, f"digest-{name}")[0]["id"]
    assert store.transition(job_id, status, {"reason": "Test"}).applied  # (from queued)
    return job_id


def sweep_until(delivery: WebhookDelivery, what: str, done, timeout: float = 20):
    def step():
        delivery.sweep()
        return done()

    return wait_until(what, step, timeout, interval=0.05)


def test_retried_after_500s_then_delivered_with_every_attempt_on_the_job(private_redis,
                                                                         receiver):  # fmt: skip
    receiver.failures = 2
    config = config_with_hook(receiver.url)
    store = JobStore(connect(private_redis.url), [t.name for t in config.teams])
    delivery = WebhookDelivery(config, store, threading.Event())
    delivery.sweep()  # follows the stream from here
    job_id = finished_job(store, config)
    started = time.monotonic()
    sweep_until(delivery, "a 200", lambda: any(r.answered == 200 for r in receiver.snapshot()))
    got = receiver.snapshot()
    assert [r.answered for r in got] == [500, 500, 200]
    assert all(r.signed for r in got), "every attempt carries a valid signature"
    assert len({r.headers["Trainq-Event-Id"] for r in got}) == 1  # one id: de-duplicable
    event = got[-1].event
    assert event["id"] == got[-1].headers["Trainq-Event-Id"]
    assert (event["type"], event["team"], event["job_id"]) == ("job.failed", "alpha", job_id)
    assert event["data"]["status"] == "failed" and event["data"]["previous_status"] == "queued"
    assert time.monotonic() - started >= 0.2 + 0.4  # the backoff: 0.2 s, then 0.4 s

    notes = store.get(job_id)["webhook_deliveries"]
    assert [(n["attempt"], n["status_code"], n["outcome"]) for n in notes] == [
        (1, 500, "retrying"), (2, 500, "retrying"), (3, 200, "delivered")]  # fmt: skip
    assert all(n["url"] == receiver.url and n["event_id"] == event["id"] for n in notes)
    assert notes[0]["next_attempt_at"] and notes[-1]["next_attempt_at"] is None
    # Nothing left to deliver; the job.queued event was not wanted by the hook.
    assert not store.redis.zcard(keys.WEBHOOKS_DUE)
    assert not store.redis.hlen(keys.WEBHOOK_DELIVERIES)


def test_gives_up_after_the_configured_attempts(private_redis, receiver):
    receiver.failures = 100
    config = config_with_hook(receiver.url, attempts=3)
    store = JobStore(connect(private_redis.url), [t.name for t in config.teams])
    delivery = WebhookDelivery(config, store, threading.Event())
    delivery.sweep()
    job_id = finished_job(store, config)
    sweep_until(delivery, "three attempts", lambda: len(receiver.snapshot()) >= 3)
    for _ in range(10):  # no fourth
        delivery.sweep()
    assert len(receiver.snapshot()) == 3
    notes = store.get(job_id)["webhook_deliveries"]
    assert [n["outcome"] for n in notes] == ["retrying", "retrying", "failed"]
    assert not store.redis.zcard(keys.WEBHOOKS_DUE)


def test_a_restarted_watcher_continues_retries_and_unacknowledged_events(private_redis,
                                                                         receiver):  # fmt: skip
    receiver.failures = 1
    config = config_with_hook(receiver.url)
    store = JobStore(connect(private_redis.url), [t.name for t in config.teams])
    first = WebhookDelivery(config, store, threading.Event())
    first.sweep()
    retried = finished_job(store, config, "retried")
    sweep_until(first, "the first attempt", lambda: len(receiver.snapshot()) == 1)
    # The first watcher dies here: one delivery waits for its retry, and one event was read
    # from the stream but never acknowledged (its deliveries not yet recorded).
    unacked = finished_job(store, config, "unacked", JobStatus.CANCELLED)
    store.transition(unacked, JobStatus.CANCELLED, {})  # (a refresh: no event)
    failed = finished_job(store, config, "read-then-lost")
    store.redis.xreadgroup("trainq-webhooks", "watcher", {keys.team_events("alpha"): ">"})

    second = WebhookDelivery(config, store, threading.Event())
    sweep_until(second, "both delivered",
                lambda: {r.event["job_id"] for r in receiver.snapshot()
                         if r.answered == 200} == {retried, failed})  # fmt: skip
    assert [n["outcome"] for n in store.get(retried)["webhook_deliveries"]] == [
        "retrying", "delivered"]  # fmt: skip
    assert [n["attempt"] for n in store.get(failed)["webhook_deliveries"]] == [1, 2]
    assert "webhook_deliveries" not in store.get(unacked)  # cancelled: not a wanted event
