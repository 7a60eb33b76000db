"""/v1/teams/{team}/events: the team's job events as Server-Sent Events, from its bounded event
stream (`wrapper.events`), resumable with Last-Event-ID (or `?since=`).

A stream holds one of gunicorn's threads, so a process serves at most
`events.max_streams_per_process` at once (more: 503), and each connection ends after
`events.stream_max_seconds`; the client (EventSource does it by itself) reconnects with the id
of the last event it got and misses nothing."""

import json
import logging
import threading
import time
from collections.abc import Iterator

import redis.exceptions
from flask import Blueprint, Response, current_app, request

from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.errors import ApiError, validation_error
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.services import services
from wrapper.config.events import EventSettings
from wrapper.events import stream

log = logging.getLogger(__name__)
bp = Blueprint("events", __name__, url_prefix="/v1/teams/<team>/events")
routes = Routes(bp)

BLOCK_MAX_SECONDS = 5.0  # one XREAD BLOCK: well under the Redis client's socket timeout
RETRY_MS = 1000  # what the stream tells EventSource to wait before reconnecting
_ID_MESSAGE = "must be an event id such as 1733130000000-0, or its milliseconds alone"
_ID_SCHEMA = {"type": "string", "pattern": "^[0-9]{1,20}(-[0-9]{1,20})?$"}
PARAMS = (
    {"name": "Last-Event-ID", "in": "header", "required": False, "schema": _ID_SCHEMA,
     "description": "Resume after this event (EventSource sends it when it reconnects)"},
    {"name": "since", "in": "query", "required": False, "schema": _ID_SCHEMA,
     "description": "Start after this event id (0: every event kept); Last-Event-ID wins"},
)  # fmt: skip
EXAMPLE = (
    "retry: 1000\n\n"
    "id: 1767261600123-0\nevent: job.running\n"
    'data: {"id":"1767261600123-0","type":"job.running","team":"alpha","job_id":42,'
    '"data":{"id":42,"name":"resnet","status":"running","previous_status":"created",'
    '"reason":"PyTorchJobRunning","message":"...","time":"2026-01-01T10:00:00.123Z"}}\n\n'
    ": keepalive\n\n"
)
SSE = {"text/event-stream": {"schema": {"type": "string"}, "example": EXAMPLE}}


def _start(client, team: str) -> str:
    """The id to read after: Last-Event-ID, else ?since=, else the newest event (only what
    comes next)."""
    for name, value in (("Last-Event-ID", request.headers.get("Last-Event-ID")),
                        ("since", request.args.get("since"))):  # fmt: skip
        if value is not None and value.strip():
            if not stream.is_stream_id(value.strip()):
                raise validation_error([{"field": name, "message": _ID_MESSAGE}])
            return value.strip()
    return stream.latest_id(client, team)


def _slots(limit: int) -> threading.BoundedSemaphore:
    return current_app.extensions.setdefault("trainq_streams", threading.BoundedSemaphore(limit))


@routes.get(
    "", summary="Stream the team's job events (Server-Sent Events)", params=PARAMS,
    reply=Reply(200, "An event stream: `id:` the event id, `event:` its type, `data:` the "
                "event as JSON; a comment line every `events.keepalive_seconds`; it ends "
                "after `events.stream_max_seconds` (reconnect with Last-Event-ID)",
                content=SSE),
    errors=errors(401, 404, {422: "Last-Event-ID or `since` is not an event id"},
                  {503: "Redis is unavailable, or this process serves its most streams "
                        "(`events.max_streams_per_process`); see Retry-After"}),
)  # fmt: skip
def stream_events(team: str):
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    after = _start(svc.store.redis, team)
    slots = _slots(svc.config.events.max_streams_per_process)
    if not slots.acquire(blocking=False):
        raise ApiError(503, "too-many-streams", "Service Unavailable",
                       "This API process serves as many event streams as it may; retry.",
                       headers={"Retry-After": "5"})  # fmt: skip
    body = _frames(svc.store.redis, team, after, svc.config.events)
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    response = Response(body, mimetype="text/event-stream", headers=headers)
    # The server closes every response, even one whose client left before the first byte.
    response.call_on_close(slots.release)
    return response


def _frames(client, team: str, after: str, settings: EventSettings) -> Iterator[str]:
    deadline = time.monotonic() + settings.stream_max_seconds
    yield f"retry: {RETRY_MS}\n\n"
    quiet_since = time.monotonic()
    while (left := deadline - time.monotonic()) > 0:
        wait = min(left, settings.keepalive_seconds, BLOCK_MAX_SECONDS)
        try:
            events = stream.read(client, team, after, max(1, int(wait * 1000)))
        except redis.exceptions.RedisError as exc:
            # Headers are sent: no problem+json now. Ending lets the client resume elsewhere.
            log.warning("event stream of team %s ended: Redis: %s", team, exc)
            return
        for event in events:
            data = json.dumps(event.envelope(), separators=(",", ":"))
            yield f"id: {event.id}\nevent: {event.type}\ndata: {data}\n\n"
            after = event.id
        now = time.monotonic()
        if events:
            quiet_since = now
        elif now - quiet_since >= settings.keepalive_seconds:
            yield ": keepalive\n\n"  # also how a dropped client is noticed
            quiet_since = now
