"""Job records in Redis: the one module that reads and writes them.

A record is a hash under `keys.job_key(id)`; `status` is stored raw (the Lua scripts compare
it), every other field as JSON. Status changes go through `transition`, which checks the state
table in `wrapper.jobs.states` and applies the change with a compare-and-set script.
"""

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from wrapper.clock import utcnow
from wrapper.jobs.queues import TeamQueues
from wrapper.jobs.states import ACTIVE, TERMINAL, JobStatus, can_transition
from wrapper.redis import keys, scripts

PUBLIC_FIELDS = (
    "id", "team", "name", "status", "position", "global_position", "pending_reason",
    "eta_seconds", "reason", "message", "submitted_at",
    "admitted_at", "started_at", "finished_at", "spec", "pytorchjob", "replicas", "conditions",
)  # fmt: skip


def connect(url: str) -> redis.Redis:
    # One quick retry covers a pooled connection that died with a Redis restart; anything
    # longer is an outage the caller reports (503) rather than hides.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=10,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=10,
    )


def empty_replicas() -> dict:
    zero = {"active": 0, "succeeded": 0, "failed": 0}
    return {"Master": dict(zero), "Worker": dict(zero)}


def _decode(raw: dict) -> dict:
    out = {}
    for k, v in raw.items():
        k = k.decode()
        out[k] = v.decode() if k == "status" else json.loads(v)
    return out


# Statuses of jobs that may have an entry in their team queue (queued, or re-dispatches).
_MAY_BE_QUEUED = frozenset({JobStatus.QUEUED, JobStatus.DISPATCHING})
_COMPACT = json.JSONEncoder(separators=(",", ":")).encode


def _encode(fields: dict) -> list:
    flat = []
    for k, v in fields.items():
        if k == "status":
            flat += [k, v]
        elif v is None:
            flat += [k, "null"]  # most fields of a new record: skip the encoder
        else:
            flat += [k, _COMPACT(v)]
    return flat


def body_digest(body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True)
class Transition:
    applied: bool
    previous: str | None  # status before (applied) or the status that blocked it


class IdempotencyConflict(Exception):
    """The Idempotency-Key was used before with a different body."""


class JobStore:
    def __init__(self, client: redis.Redis, teams: list[str], idempotency_ttl: int = 86_400):
        self.redis = client
        self.idempotency_ttl = idempotency_ttl
        self.queues = TeamQueues(client, teams)
        self._cas = client.register_script(scripts.TRANSITION)
        # SUBMIT must not be resent after a lost reply (it would queue a second job), so it
        # goes over a pool without redis-py's retry. A pooled connection that Redis closed is
        # still noticed and replaced before anything is sent (the pool's own readiness check).
        pool = client.connection_pool
        kwargs = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
        once = redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class,
                                                      max_connections=pool.max_connections,
                                                      **kwargs))  # fmt: skip
        self._submit = once.register_script(scripts.SUBMIT)
        # record -> {position, global_position, pending_reason, message, eta_seconds}
        self.visibility: Callable[[dict], dict] | None = None

    # --- submission -------------------------------------------------------------------
    def submit(
        self, team: str, spec: dict, idempotency_key: str | None, digest: str
    ) -> tuple[dict, bool]:
        """Write a queued record, its RQ job and its queue entry in one step (SUBMIT): one
        round trip at any queue depth.

        Returns (record, replayed); replayed is True when the Idempotency-Key already named a
        job with the same body. Raises IdempotencyConflict for the same key, another body."""
        idem_key = None
        if idempotency_key is not None:
            key_digest = hashlib.sha256(idempotency_key.encode()).hexdigest()
            idem_key = keys.idempotency(team, key_digest)
        now = utcnow()
        record = {
            "team": team, "name": spec["name"], "status": JobStatus.QUEUED.value,
            "reason": None, "message": None, "submitted_at": now, "admitted_at": None,
            "started_at": None, "finished_at": None, "spec": spec, "pytorchjob": None,
            "replicas": empty_replicas(), "conditions": [], "priority": spec["priority"],
            "attempts": 0, "updated_at": now, "uid": secrets.token_hex(8),
        }  # fmt: skip
        fields = _encode(record)
        queue = self.queues.queue(team)
        before, after = self.queues.rq_description(team)
        result = self._submit(
            keys=[keys.JOB_ID_COUNTER, idem_key or keys.JOB_ID_COUNTER,
                  keys.status_index(JobStatus.QUEUED), keys.team_jobs(team), queue.key,
                  queue.redis_queues_keys, keys.ADMISSION_WAKE, keys.ADMISSION_VERSION,
                  keys.QUEUE_VERSIONS],
            args=[spec["priority"], keys.JOB_KEY_PREFIX, JobStatus.QUEUED.value,
                  digest if idem_key else "", self.idempotency_ttl,
                  queue.job_class.redis_job_namespace_prefix, before, after, team, len(fields),
                  *fields, *self.queues.rq_job_fields(team)],
        )  # fmt: skip
        outcome = result[0].decode()
        if outcome == "new":
            return {"id": int(result[1]), **record, "position": int(result[2])}, False
        if outcome == "conflict":
            raise IdempotencyConflict()
        return self.get(int(result[1])), True  # 'replay'

    # --- reads ------------------------------------------------------------------------
    def get(self, job_id: int) -> dict | None:
        raw = self.redis.hgetall(keys.job_key(job_id))
        return _decode(raw) if raw else None

    def get_many(self, ids: list[int]) -> list[dict | None]:
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(keys.job_key(job_id))
            return [_decode(raw) if raw else None for raw in pipe.execute()]

    def public(self, record: dict, plan: bool = True) -> dict:
        """The API view of a record: the public fields; while queued, where it stands and why
        it waits (from `self.visibility`, set by the API, else the raw queue position).
        plan=False skips the admission plan (linear in the queued jobs): the submit response
        is on the hot path and shows only the job's place in its team's queue list."""
        out = {k: record.get(k) for k in PUBLIC_FIELDS}
        if record["status"] == JobStatus.QUEUED:
            if "position" in record:  # known already (a submission's answer)
                pass
            elif plan and self.visibility is not None:
                out.update(self.visibility(record))
            else:
                out["position"] = self.queues.position(record["team"], record["id"])
        return out

    def list_team(
        self, team: str, status: str | None, limit: int, cursor: int | None
    ) -> tuple[list[dict], int | None]:
        """Newest first; `cursor` is the last id of the previous page."""
        items: list[dict] = []
        upper = f"({cursor}" if cursor else "+inf"
        batch = max(limit, 100)
        while len(items) <= limit:
            ids = self.redis.zrevrangebyscore(keys.team_jobs(team), upper, "-inf", 0, batch)
            if not ids:
                break
            ids = [int(x) for x in ids]
            for rec in self.get_many(ids):
                if rec and (status is None or rec["status"] == status):
                    items.append(rec)
            upper = f"({ids[-1]}"
            if len(ids) < batch:
                break
        more = len(items) > limit
        items = items[:limit]
        return items, (items[-1]["id"] if more else None)

    def ids_with_status(self, *statuses: str) -> list[int]:
        """Ids in non-terminal statuses (terminal ones are not indexed)."""
        out: set[int] = set()
        for s in statuses:
            out |= {int(x) for x in self.redis.smembers(keys.status_index(s))}
        return sorted(out)

    def running_count(self, team: str) -> int:
        return self.redis.scard(keys.team_active(team))

    # --- writes -----------------------------------------------------------------------
    def transition(
        self,
        job_id: int,
        target: JobStatus,
        fields: dict | None = None,
        *,
        expect: frozenset | set | None = None,
        lease_deadline: float | None = None,
        known: tuple[JobStatus, str] | None = None,
    ) -> Transition:
        """Move a job to `target` (x -> x refreshes fields) if the state table allows it from
        its current status (and, with `expect`, only from those statuses). `known`: the
        (status, team) the caller just read, tried first without reading them again (the
        script's compare-and-set still checks the status)."""
        target = JobStatus(target)
        job_key = keys.job_key(job_id)
        for _ in range(20):
            if known is not None:
                current, team = known[0], json.dumps(known[1])
                known = None
            else:
                current, team = self.redis.hmget(job_key, "status", "team")
                if current is None:
                    return Transition(False, None)
                current = current.decode()
            current = JobStatus(current)
            if (expect and current not in expect) or not can_transition(current, target):
                return Transition(False, current.value)
            if target == JobStatus.DISPATCHING and lease_deadline is not None:
                lease_op = str(lease_deadline)
            else:
                lease_op = "" if target == JobStatus.DISPATCHING else "rem"
            all_fields = {"updated_at": utcnow(), **(fields or {})}
            result = self._cas(
                keys=[
                    job_key,
                    keys.status_index(current),
                    keys.status_index(target),
                    keys.team_active(json.loads(team)),
                    keys.DISPATCH_LEASES,
                    keys.RESERVATIONS,
                    keys.team_usage(json.loads(team)),
                    keys.USAGE_TOTAL,
                    keys.ADMISSION_WAKE,
                    keys.ADMISSION_VERSION,
                    keys.QUEUE_VERSIONS,
                ],
                args=[
                    job_id,
                    current.value,
                    target.value,
                    "1" if current not in TERMINAL else "",
                    "1" if target not in TERMINAL else "",
                    "add" if target in ACTIVE else "rem",
                    lease_op,
                    "1" if target in TERMINAL else "",  # an ended job gives back its reservation
                    json.loads(team) if current in _MAY_BE_QUEUED else "",
                    *_encode(all_fields),
                ],
            )
            if result[0] == 1:
                return Transition(True, current.value)
        raise RuntimeError(f"job {job_id}: status kept changing under transition to {target}")

    def request_cancel(self, job_id: int) -> None:
        """Wake the canceller; the `cancelling` index is what it acts on."""
        self.redis.lpush(keys.CANCEL_REQUESTS, job_id)

    def queue_view(self, team: str) -> dict:
        ids = self.queues.ids(team)
        jobs = []
        for position, rec in enumerate(self.get_many(ids)):
            if rec and rec["status"] == JobStatus.QUEUED:
                jobs.append(
                    {
                        "id": rec["id"],
                        "name": rec["name"],
                        "position": position,
                        "priority": rec["spec"]["priority"],
                        "submitted_at": rec["submitted_at"],
                    }
                )
        running = self.running_count(team)
        return {"team": team, "queued": len(jobs), "running": running, "jobs": jobs}
