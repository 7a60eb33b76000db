"""A team's event stream in Redis (`keys.team_events`): publishing an event from Python, and
reading the stream from a position, as the SSE endpoint and webhook delivery do. Transitions
are published by the Lua scripts that make them (`wrapper.redis.scripts.events`), in the same
entry layout: fields `type`, `job` (the job id) and `data` (JSON)."""

import json
import re
from dataclasses import dataclass

from redis import Redis
from redis.client import Pipeline

from wrapper.clock import utcnow
from wrapper.events.types import check
from wrapper.redis import keys
from wrapper.redis.scripts.events import DEFAULT_MAX_PER_TEAM

# A stream id ("1733130000000-0") or its milliseconds alone.
_STREAM_ID = re.compile(r"^[0-9]{1,20}(-[0-9]{1,20})?$")
_COMPACT = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(frozen=True)
class Event:
    id: str  # the stream id: ordered, unique per team; SSE's `id:` and webhooks' de-duplication
    type: str
    team: str
    job_id: int
    data: dict

    def envelope(self) -> dict:
        """What frontends get (the SSE `data:` line, a webhook's body)."""
        return {"id": self.id, "type": self.type, "team": self.team, "job_id": self.job_id,
                "data": self.data}  # fmt: skip


def publish(client: Redis | Pipeline, team: str, event_type: str, job_id: int, data: dict,
            max_len: int = DEFAULT_MAX_PER_TEAM) -> str | None:  # fmt: skip
    """Append an event to `team`'s stream (bounded: MAXLEN ~ max_len); `data` gets the job `id`
    and the `time` unless it has them. Returns the event id, or None on a pipeline (its id
    comes back with the pipeline's results). Raises UnknownEventType for an unknown type."""
    check(event_type)
    body = {"id": job_id, "time": utcnow(), **data}
    fields = {"type": event_type, "job": job_id, "data": _COMPACT(body)}
    result = client.xadd(keys.team_events(team), fields, maxlen=max_len, approximate=True)
    if isinstance(client, Pipeline):
        return None
    return _text(result)


def is_stream_id(value: str) -> bool:
    return bool(_STREAM_ID.match(value))


def decode(team: str, entry_id, fields: dict | None) -> Event | None:
    """An entry as an Event; None for an entry trimmed away (a consumer group's pending list
    may still name it) or one not written by trainq."""
    if not fields:
        return None
    f = {_text(k): _text(v) for k, v in fields.items()}
    try:
        return Event(_text(entry_id), f["type"], team, int(f["job"]), json.loads(f["data"]))
    except (KeyError, ValueError):
        return None


def latest_id(client: Redis, team: str) -> str:
    """The id of the team's newest event ("0-0" when there is none): reading after it gives
    only what comes next."""
    newest = client.xrevrange(keys.team_events(team), count=1)
    return _text(newest[0][0]) if newest else "0-0"


def read(client: Redis, team: str, after: str, block_ms: int | None,
         count: int = 100) -> list[Event]:  # fmt: skip
    """Up to `count` events after the id `after`, waiting up to block_ms for the first (None:
    not at all). An entry that is not trainq's is skipped."""
    reply = client.xread({keys.team_events(team): after}, count=count, block=block_ms)
    events = []
    for _key, entries in reply or []:
        events += [e for e in (decode(team, i, f) for i, f in entries) if e is not None]
    return events


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
