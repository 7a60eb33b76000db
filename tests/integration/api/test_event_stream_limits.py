"""The SSE endpoint's bounds on a real Redis through Flask's test client: a stream ends after
`events.stream_max_seconds` with keepalive comments while quiet, a process serves at most
`events.max_streams_per_process` streams at once (503 beyond, the slot freed when a stream
closes), and `?since=` starts after the given id."""

import time

import pytest
import yaml

from tests.support import LOCAL_CONFIG
from tests.support.events import parse
from tests.support.stack import TOKENS
from wrapper.api.app import create_app
from wrapper.config import TrainqConfig
from wrapper.events import publish

pytestmark = pytest.mark.integration
AUTH = {"Authorization": f"Bearer {TOKENS['alpha']}"}


@pytest.fixture
def app(private_redis, api_settings):
    raw = yaml.safe_load(LOCAL_CONFIG.read_text())
    raw["events"] = {"stream_max_seconds": 1.2, "keepalive_seconds": 0.3,
                     "max_streams_per_process": 1}  # fmt: skip
    return create_app(TrainqConfig.model_validate(raw), api_settings(private_redis.url))


def frames(response) -> list:
    return [parse(raw) for raw in b"".join(response.response).decode().split("\n\n") if raw]


def test_a_stream_ends_after_its_time_with_keepalives(app):
    started = time.monotonic()
    response = app.test_client().get("/v1/teams/alpha/events", headers=AUTH)
    got = frames(response)
    assert 1.2 <= time.monotonic() - started < 5
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["Cache-Control"] == "no-cache"
    assert sum(f.comment for f in got) >= 2  # ": keepalive" while nothing happened
    assert all(f.event is None for f in got)


def test_since_starts_after_the_id_given(app):
    client = app.extensions["trainq"].store.redis
    first = publish(client, "alpha", "job.stalled", 1, {})
    second = publish(client, "alpha", "job.stalled", 2, {})
    got = [f for f in frames(app.test_client().get(f"/v1/teams/alpha/events?since={first}",
                                                   headers=AUTH)) if f.event]  # fmt: skip
    assert [(f.id, f.data["job_id"]) for f in got] == [(second, 2)]
    unknown = app.test_client().get("/v1/teams/alpha/events?from=0", headers=AUTH)
    assert unknown.status_code == 422 and unknown.json["errors"][0]["field"] == "from"


def test_streams_per_process_are_bounded_and_freed_on_close(app):
    client = app.test_client()
    held = client.get("/v1/teams/alpha/events", headers=AUTH, buffered=False)
    assert held.status_code == 200
    refused = client.get("/v1/teams/alpha/events", headers=AUTH)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.json["type"].endswith("/too-many-streams")
    held.close()  # what the server does when the client goes
    again = client.get("/v1/teams/alpha/events", headers=AUTH, buffered=False)
    assert again.status_code == 200
    again.close()
