"""`trainq status --watch` against the stub: refreshed by the event stream (resumed with
Last-Event-ID), else by polling when the stream is refused; its exit codes (0 succeeded,
4 failed, 5 timed out)."""

import json

import pytest

from tests.unit.cli.conftest import problem
from tests.unit.cli.test_cli_commands import RECORD, RUNNING
from wrapper.cli import follow

DONE = {**RUNNING, "status": "succeeded", "finished_at": "2026-01-01T10:05:00Z",
        "reason": "PyTorchJobSucceeded", "message": "done"}  # fmt: skip
FAILED = {**DONE, "status": "failed", "reason": "PyTorchJobFailed"}
EVENTS = "/v1/teams/alpha/events"
SSE = (
    'retry: 1000\n\nid: 1767261600123-0\nevent: job.running\ndata: {"id":"1767261600123-0",'
    '"type":"job.running","team":"alpha","job_id":42,"data":{"id":42,"status":"running"}}\n\n'
)


@pytest.fixture
def fast_polling(monkeypatch):
    monkeypatch.setattr(follow, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(follow, "MIN_REFRESH_SECONDS", 0.0)


def test_watch_follows_the_event_stream_to_success(api, cli):
    api.on("GET", EVENTS, (200, SSE, {"Content-Type": "text/event-stream"}))
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RECORD), (200, RUNNING), (200, DONE))
    api.on("GET", "/v1/teams/alpha/jobs/42/metrics", problem(404, "Not Found", "no route"))
    result = cli("status", "42", "--watch", "--timeout", "30")
    assert result.exit_code == 0, result.output
    assert "succeeded" in result.stdout
    assert "following the event stream" in result.stdout
    # The server ended the stream: the CLI resumed it after the last event it got.
    resumed = [s for s in api.requests("GET", EVENTS) if "Last-Event-ID" in s.headers]
    assert resumed and resumed[0].headers["Last-Event-ID"] == "1767261600123-0"


def test_watch_polls_when_the_stream_is_refused_and_exits_4_on_failure(api, cli, fast_polling):
    api.on("GET", EVENTS, problem(503, "Service Unavailable", "too many streams"))
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RUNNING), (200, FAILED))
    result = cli("status", "42", "-w")
    assert result.exit_code == 4, result.output
    assert "polling every" in result.stdout and "too many streams" in result.stdout
    assert "failed" in result.stdout


def test_watch_times_out_with_5(api, cli, fast_polling):
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RECORD))
    result = cli("status", "42", "--watch", "--poll", "--timeout", "0.3")
    assert result.exit_code == 5, result.output
    assert "still queued after 0.3s" in result.stderr
    assert api.requests("GET", EVENTS) == []  # --poll never opens the stream


def test_watch_json_prints_each_change_once(api, cli, fast_polling):
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RECORD), (200, RECORD), (200, RUNNING),
           (200, DONE))  # fmt: skip
    result = cli("status", "42", "--watch", "--poll", "-o", "json")
    assert result.exit_code == 0, result.output
    statuses = [json.loads(line)["status"] for line in result.stdout.splitlines()]
    assert statuses == ["queued", "running", "succeeded"]


def test_submit_watch(api, cli, fast_polling):
    api.on("POST", "/v1/teams/alpha/jobs", (202, RECORD))
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RUNNING), (200, DONE))
    result = cli("submit", "--name", "x", "--image", "docker.io/a/b:1", "--watch", "--timeout",
                 "10", env={"TRAINQ_TEAM": "alpha"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Submitted job 42" in result.stdout and "succeeded" in result.stdout
