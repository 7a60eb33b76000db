"""Webhook deliveries in Redis: what the watcher's delivery loop
(`queue_workers.watcher.webhooks`) reads and writes. Each team's stream is followed by one
consumer group; an event a hook wants becomes a delivery (its state in
`keys.WEBHOOK_DELIVERIES`, when it is due in `keys.WEBHOOKS_DUE`) in the same transaction as
the XACK, so an event is acknowledged only once its deliveries exist, and a watcher restart
continues every retry where it was (at-least-once: a delivery interrupted after the receiver
got it is sent again, with the same event id)."""

import hashlib
import json
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import ResponseError

from wrapper.config.events import Webhook
from wrapper.events.stream import Event, decode
from wrapper.redis import keys, scripts

GROUP = "trainq-webhooks"
CONSUMER = "watcher"  # one: only the leading watcher delivers
_COMPACT = json.JSONEncoder(separators=(",", ":")).encode


def hook_key(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Delivery:
    member: str  # "<team>/<event id>/<hook key>"
    team: str
    url: str
    event: dict  # the envelope sent
    attempts: int  # made so far

    def body(self) -> bytes:
        return _COMPACT(self.event).encode()


class Deliveries:
    def __init__(self, client: Redis, hooks: dict[str, list[Webhook]], kept: int):
        """hooks: team -> its webhooks (teams without any are not followed); kept: attempts a
        job record shows."""
        self.redis, self.hooks, self.kept = client, hooks, kept
        self._teams = {keys.team_events(t).encode(): t for t in hooks}
        self._record = scripts.RecordDelivery(client)

    def follow(self) -> None:
        """Create each team's consumer group where missing, at the stream's end (events from
        before a team had webhooks are not sent)."""
        for team in self.hooks:
            try:
                self.redis.xgroup_create(keys.team_events(team), GROUP, id="$", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    def take(self, block_ms: int | None, pending: bool = False, count: int = 100) -> int:
        """Turn new events (pending=True: those read before a restart and not acknowledged)
        into deliveries; returns how many events were read. Raises redis' ResponseError
        NOGROUP when a stream or group vanished (call `follow` again)."""
        streams = {keys.team_events(t): "0" if pending else ">" for t in self.hooks}
        reply = self.redis.xreadgroup(GROUP, CONSUMER, streams, count=count,
                                      block=None if pending else block_ms)  # fmt: skip
        read = 0
        for key, entries in reply or []:
            team = self._teams[key if isinstance(key, bytes) else key.encode()]
            with self.redis.pipeline(transaction=True) as pipe:
                for entry_id, fields in entries:
                    event = decode(team, entry_id, fields)
                    if event is not None:
                        self._schedule(pipe, event)
                    pipe.xack(keys.team_events(team), GROUP, entry_id)
                    read += 1
                pipe.execute()
        return read

    def _schedule(self, pipe, event: Event) -> None:
        for hook in self.hooks.get(event.team, []):
            if event.type in hook.events:
                member = f"{event.team}/{event.id}/{hook_key(hook.url)}"
                state = {"team": event.team, "url": hook.url, "event": event.envelope(),
                         "attempts": 0}  # fmt: skip
                pipe.hsetnx(keys.WEBHOOK_DELIVERIES, member, _COMPACT(state))
                pipe.zadd(keys.WEBHOOKS_DUE, {member: 0}, nx=True)

    def next_due(self) -> float | None:
        first = self.redis.zrange(keys.WEBHOOKS_DUE, 0, 0, withscores=True)
        return first[0][1] if first else None

    def due(self, now: float, limit: int = 20) -> list[Delivery]:
        members = self.redis.zrangebyscore(keys.WEBHOOKS_DUE, "-inf", now, 0, limit)
        if not members:
            return []
        out = []
        states = self.redis.hmget(keys.WEBHOOK_DELIVERIES, members)
        for member, raw in zip(members, states, strict=True):
            member = member.decode()
            if raw is None:  # finished by an earlier run between its two deletes
                self.redis.zrem(keys.WEBHOOKS_DUE, member)
                continue
            s = json.loads(raw)
            out.append(Delivery(member, s["team"], s["url"], s["event"], s["attempts"]))
        return out

    def hook(self, delivery: Delivery) -> Webhook | None:
        """The configured hook a delivery is for (None: removed from the config since)."""
        for hook in self.hooks.get(delivery.team, []):
            if hook.url == delivery.url:
                return hook
        return None

    def finish(self, delivery: Delivery) -> None:
        """Delivered, or given up: forget it."""
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(keys.WEBHOOKS_DUE, delivery.member)
            pipe.hdel(keys.WEBHOOK_DELIVERIES, delivery.member)
            pipe.execute()

    def retry_at(self, delivery: Delivery, attempts: int, when: float) -> None:
        state = {"team": delivery.team, "url": delivery.url, "event": delivery.event,
                 "attempts": attempts}  # fmt: skip
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.WEBHOOK_DELIVERIES, delivery.member, _COMPACT(state))
            pipe.zadd(keys.WEBHOOKS_DUE, {delivery.member: when})
            pipe.execute()

    def record(self, job_id: int, attempt: dict) -> bool:
        """Note an attempt on the job's record (`webhook_deliveries`, newest last)."""
        return self._record(job_key=keys.job_key(job_id), attempt=_COMPACT(attempt),
                            kept=self.kept)  # fmt: skip
