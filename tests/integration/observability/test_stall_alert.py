"""The stalled-run alert with the real watcher: team alpha's `alerts.stall_after_seconds` is 3 s
here; a running job (kwok) that reports nothing becomes stalled (on its record, and one
`job.stalled` event in the team's stream), once per stall: it fires again only after new
progress, and at once for a non-finite loss (reported with the job's own metrics token)."""

import time

import pytest
import redis
import yaml

from tests.support import LOCAL_CONFIG, wait_until
from tests.support.stack import Stack, job_body, unique
from wrapper.events.stream import read
from wrapper.jobs.store import JobStore
from wrapper.runs import tokens

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
STALL_AFTER = 3


@pytest.fixture
def stall_stack(tmp_path, kubeconfig, kube_api, private_redis):
    teams = yaml.safe_load(LOCAL_CONFIG.read_text())["teams"]
    for team in teams:
        if team["name"] == "alpha":
            team["alerts"] = {"stall_after_seconds": STALL_AFTER}
    stack = Stack(tmp_path / "stack", private_redis.url, kubeconfig, teams=teams)
    try:
        stack.start_all()
        yield stack
    finally:
        stack.close()


def stalled_events(client, job_id) -> list[dict]:
    return [e.data for e in read(client, "alpha", "0", None, count=1000)
            if e.type == "job.stalled" and e.job_id == job_id]  # fmt: skip


def test_a_silent_run_stalls_once_per_stall(stall_stack):
    stack, api = stall_stack, stall_stack.api
    r = redis.Redis.from_url(stack.redis_url)
    body = job_body(unique("stall"), workers=0, annotations={"trainq.dev/sim-run-for": "300s"})
    job_id = api.submit_ok("alpha", body)["id"]
    api.wait_status("alpha", job_id, "running", timeout=60)
    started = time.monotonic()

    first = wait_until("the stall", lambda: api.record("alpha", job_id)["stall"], timeout=30)
    assert time.monotonic() - started >= STALL_AFTER - 1.5  # not before its time (sweeps: 2 s)
    assert first["reason"] == "NoProgress" and "no progress reported" in first["message"]
    assert first["detected_at"].endswith("Z") and set(first) == {
        "reason", "message", "since", "detected_at"}  # fmt: skip
    (event,) = stalled_events(r, job_id)
    assert event["reason"] == "NoProgress" and event["since"] == first["since"]
    time.sleep(STALL_AFTER + 2)
    assert len(stalled_events(r, job_id)) == 1  # the same stall: announced once

    # New progress, then silence again: a second stall.
    record = JobStore(r, ["alpha"]).get(job_id)  # (the uid the token derives from)
    url = f"{api.base}/v1/teams/alpha/jobs/{job_id}/metrics"
    auth = {"Authorization": f"Bearer {tokens.metrics_token(record)}"}
    ok = api.http.post(url, json={"epochs": [{"epoch": 1, "values": {"train_loss": 0.9}}]},
                       headers=auth, timeout=10)  # fmt: skip
    assert ok.status_code == 202, ok.text
    wait_until("a second stall", lambda: len(stalled_events(r, job_id)) == 2, timeout=30)
    assert api.record("alpha", job_id)["stall"]["since"] != first["since"]

    # A non-finite loss: at once, whatever the timer says.
    bad = {"epochs": [{"epoch": 2, "values": {"train_loss": "NaN"}}]}
    assert api.http.post(url, json=bad, headers=auth, timeout=10).status_code == 202
    events = wait_until("the non-finite alert", lambda: stalled_events(r, job_id)[2:], timeout=15)
    third = events[0]
    assert third["reason"] == "NonFiniteLoss" and "train_loss is nan at epoch 2" in third["message"]
    assert api.record("alpha", job_id)["stall"]["reason"] == "NonFiniteLoss"
    time.sleep(4)
    assert len(stalled_events(r, job_id)) == 3
    assert api.cancel("alpha", job_id).status_code == 202
