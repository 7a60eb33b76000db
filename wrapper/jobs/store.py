"""Job records in Redis: the one module that reads and writes them.

A record is a hash under `keys.job_key(id)`; `status` is stored raw (the Lua scripts compare
it), every other field as JSON. A new record is written with its queue entry in one step (the
SUBMIT script); status changes go through `transition`, which checks the state table in
`wrapper.jobs.states` and applies the change with a compare-and-set script (TRANSITION). What
the API shows of a record is its business (`wrapper.api.records`).
"""

import hashlib
import json
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

import redis

from wrapper.clock import utcnow
from wrapper.config import SubmissionLimits
from wrapper.events.types import transition_event
from wrapper.jobs import metering
from wrapper.jobs.queues import QUEUE_ID_SPAN, TeamQueues, queue_rank
from wrapper.jobs.states import ACTIVE, TERMINAL, JobStatus, can_transition
from wrapper.redis import keys, replicas_acked, scripts, without_retry


def empty_replicas() -> dict:
    zero = {"active": 0, "succeeded": 0, "failed": 0}
    return {"Master": dict(zero), "Worker": dict(zero)}


def _decode(raw: dict) -> dict:
    out = {}
    for k, v in raw.items():
        k = k.decode()
        # (most fields of a record are null: no decoder call for them)
        out[k] = v.decode() if k == "status" else None if v == b"null" else json.loads(v)
    return out


# Statuses of jobs whose PyTorchJob (so its pods) does not exist yet, or never will.
_NO_PODS_YET = frozenset({JobStatus.QUEUED, JobStatus.DISPATCHING})
# Statuses of jobs that may have an entry in their team queue (queued, or re-dispatches).
_MAY_BE_QUEUED = frozenset({JobStatus.QUEUED, JobStatus.DISPATCHING})
# Statuses a job may be sent back to its queue from (its pods were not all ready in time).
_MAY_HAVE_PODS = frozenset({JobStatus.CREATED, JobStatus.RUNNING, JobStatus.RESTARTING})
_SET_ASIDE = frozenset({JobStatus.QUEUED, JobStatus.SUSPENDED})
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


class SubmissionLimited(Exception):
    """A team cap refused the submission (nothing written): `exceeded` names the config key,
    `limit` its value, `retry_after` the seconds to wait."""

    def __init__(self, exceeded: str, limit: float, retry_after: int):
        super().__init__(f"{exceeded} ({limit}) exceeded; retry after {retry_after}s")
        self.exceeded, self.limit, self.retry_after = exceeded, limit, retry_after


class OutcomeUnknown(Exception):
    """Redis went away while a submission was sent and did not come back in time to tell
    whether the job was queued (so the caller must not claim either)."""


class NotReplicated(Exception):
    """Fewer replicas than required acknowledged a write in time (Redis WAIT): it may be
    lost in a failover, so it must not be acknowledged; a retry with the same
    Idempotency-Key repeats nothing (it replays, and waits again)."""


# A full queue empties at the admission pace, which the store cannot know: a polite wait.
QUEUE_FULL_RETRY_SECONDS = 30
# How long a submission whose reply was lost keeps trying to learn its outcome.
RESOLVE_SECONDS = 3.0


def _never_sent(exc: redis.exceptions.RedisError) -> bool:
    """The command never left: no connection could be made (redis-py words every failure to
    connect "... connecting to ..."; a failure to write or read, after which the command may
    have run, never so)."""
    return "connecting to" in str(exc)


class JobStore:
    def __init__(self, client: redis.Redis, teams: list[str], idempotency_ttl: int = 86_400,
                 limits: Callable[[str], SubmissionLimits] | None = None,
                 replicas: int = 0, ack_timeout_ms: int = 1000,
                 max_events: int = scripts.DEFAULT_MAX_PER_TEAM):  # fmt: skip
        """limits: a team's submission caps (None: uncapped, for tools that fill a store).
        replicas: how many Redis replicas must hold a write before it is acknowledged
        (`durable`, and every submission); 0: no replication promised. max_events: the
        bound of each team's event stream (`events.max_per_team`)."""
        self.redis = client
        self.replicas, self.ack_timeout_ms = replicas, ack_timeout_ms
        self.idempotency_ttl = idempotency_ttl
        self.limits = limits
        self.queues = TeamQueues(client, teams)
        self._transition = scripts.Transition(client, max_events)
        self._finished_reserved = scripts.FinishedReserved(client)
        # SUBMIT must not be resent after a lost reply (it would queue a second job).
        self._submit = scripts.Submit(without_retry(client), max_events)

    # --- submission -------------------------------------------------------------------
    def submit(
        self, team: str, spec: dict, idempotency_key: str | None, digest: str
    ) -> tuple[dict, bool]:
        """Write a queued record, its RQ job and its queue entry in one step (SUBMIT): one
        round trip at any queue depth.

        Returns (record, replayed); replayed is True when the Idempotency-Key already named a
        job with the same body. Raises IdempotencyConflict for the same key, another body,
        SubmissionLimited past a team cap, redis' ConnectionError / TimeoutError when nothing
        was written, OutcomeUnknown when that could not be learnt."""
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
            # The keys that name this job, deleted with its record (wrapper.jobs.retention).
            "idempotency_key": idem_key, "nonce": secrets.token_hex(16),
        }  # fmt: skip
        limits = self.limits(team) if self.limits else None
        caps = scripts.Caps()
        if limits is not None:
            caps = scripts.Caps(limits.max_queued_jobs, limits.bucket_size,
                                limits.per_minute / 60.0)  # fmt: skip
        queue = self.queues.queue(team)
        try:
            result = self._submit(
                team=team, rank=queue_rank(spec["priority"]), id_span=QUEUE_ID_SPAN,
                queued=JobStatus.QUEUED.value,
                record=_encode(record),
                rq=scripts.RqQueue(queue.job_class.redis_job_namespace_prefix),
                rq_job=self.queues.rq_job_fields(team),
                rq_description=self.queues.rq_description(team), idempotency_key=idem_key,
                body_digest=digest, idempotency_ttl=self.idempotency_ttl,
                nonce=record["nonce"], caps=caps, now=time.time(),
                replicas=self.replicas, timeout_ms=self.ack_timeout_ms,
            )  # fmt: skip
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            if _never_sent(exc):
                raise
            # The script may have run with its reply lost: answer what happened, exactly.
            job_id = self._resolve(record["nonce"])
            if job_id is None:
                raise  # voided: it never ran and never will
            self.durable()  # read on this primary, then acknowledged by its replicas
            return self.get(job_id), False
        if result.replicas_acked is not None and result.replicas_acked < self.replicas:
            raise NotReplicated(f"{result.replicas_acked} of {self.replicas} replicas")
        if result.outcome == "new":
            return {"id": result.job_id, **record, "position": result.position}, False
        if result.outcome == "conflict":
            raise IdempotencyConflict()
        if result.outcome == "limit":
            if result.exceeded == "max_queued_jobs":
                raise SubmissionLimited("max_queued_jobs", limits.max_queued_jobs,
                                        QUEUE_FULL_RETRY_SECONDS)  # fmt: skip
            raise SubmissionLimited("per_minute", limits.per_minute,
                                    max(1, math.ceil(result.retry_after)))  # fmt: skip
        if result.outcome == "void":  # only a nonce resolved as lost is void; never ours
            raise RuntimeError("submission nonce reused")
        replayed = self.get(result.job_id)
        if replayed is None:
            # The key outlived its job's record (retention): it names nothing any more.
            self.redis.delete(idem_key)
            return self.submit(team, spec, idempotency_key, digest)
        return replayed, True

    def durable(self) -> None:
        """Raise NotReplicated unless `replicas` replicas hold every write made so far (a
        no-op without replication): call before acknowledging a change."""
        if not self.replicas:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            replicas_acked(pipe, self.replicas, self.ack_timeout_ms)
            acked = pipe.execute()[-1]
        if acked < self.replicas:
            raise NotReplicated(f"{acked} of {self.replicas} replicas")

    def _resolve(self, nonce: str) -> int | None:
        deadline = time.monotonic() + RESOLVE_SECONDS
        while True:
            try:
                return scripts.resolve_nonce(self.redis, nonce)
            except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
                if time.monotonic() >= deadline:
                    raise OutcomeUnknown(str(exc)) from exc
                time.sleep(0.2)

    # --- reads ------------------------------------------------------------------------
    def get(self, job_id: int) -> dict | None:
        raw = self.redis.hgetall(keys.job_key(job_id))
        return _decode(raw) if raw else None

    def get_with_version(self, job_id: int) -> tuple[dict | None, bytes | None]:
        """The record and the admission version (`AdmissionStore.version`), read in one round
        trip: what a status read needs to place a queued job."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job_key(job_id))
            pipe.get(keys.ADMISSION_VERSION)
            raw, version = pipe.execute()
        return (_decode(raw) if raw else None), version

    def get_many(self, ids: list[int]) -> list[dict | None]:
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(keys.job_key(job_id))
            return [_decode(raw) if raw else None for raw in pipe.execute()]

    def queued_flags(self, ids: list[int], unknown: list[int],
                     fields: tuple[str, ...]) -> tuple[list[bool], list[list]]:  # fmt: skip
        """In one round trip: whether each of `ids` is `queued`, and `fields` (decoded; None
        where missing) of the records of `unknown` (the caller's cache misses)."""
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.smismember(keys.status_index(JobStatus.QUEUED), ids)
            for job_id in unknown:
                pipe.hmget(keys.job_key(job_id), *fields)
            flags, *rows = pipe.execute()
        decoded = [[None if v is None else json.loads(v) for v in row] for row in rows]
        return [bool(f) for f in flags], decoded

    def fields_of(self, ids: list[int], *names: str) -> list[list]:
        """`names` (not `status`) of each job, decoded (None where missing), in one round trip:
        a sweep that needs two fields need not read whole records."""
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hmget(keys.job_key(job_id), *names)
            rows = pipe.execute()
        return [[None if v is None else json.loads(v) for v in row] for row in rows]

    def statuses(self, ids: list[int]) -> list[str | None]:
        with self.redis.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hget(keys.job_key(job_id), "status")
            return [None if s is None else s.decode() for s in pipe.execute()]

    def list_team(
        self, team: str, status: str | None, limit: int, cursor: int | None
    ) -> tuple[list[dict], int | None]:
        """Newest first; `cursor` is the last id of the previous page. With a status, only
        that status's index is read (O(log n + page) at any history length)."""
        index = keys.team_jobs(team) if status is None else keys.team_status(team, status)
        items: list[dict] = []
        upper = f"({cursor}" if cursor else "+inf"
        batch = limit + 1
        while len(items) <= limit:
            ids = [int(x) for x in self.redis.zrevrangebyscore(index, upper, "-inf", 0, batch)]
            if not ids:
                break
            stale = []
            for job_id, rec in zip(ids, self.get_many(ids), strict=True):
                if rec and (status is None or rec["status"] == status):
                    items.append(rec)
                elif status is not None:
                    # Forgotten without its team (FORGET), or indexed by `index_records` as
                    # it changed: every transition since moved its own entry, so drop this.
                    stale.append(job_id)
            if stale:
                self.redis.zrem(index, *stale)
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

    def counted_nodes(self, job_id: int) -> list[str]:
        """The node admission counted each of the job's replicas on ([]: counted in sums, or
        its reservation is given back)."""
        raw = self.redis.hget(keys.PLACEMENTS, job_id)
        return list(json.loads(raw)["nodes"]) if raw else []

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
            all_fields = {"updated_at": utcnow(), **(fields or {})}
            dispatching = target == JobStatus.DISPATCHING
            # Back to its queue (pods not ready) or suspended by its team: its pods go.
            requeued = target in _SET_ASIDE and current in _MAY_HAVE_PODS
            result = self._transition(
                job_id=job_id, team=json.loads(team), expected=current.value, target=target.value,
                indexed_before=current not in TERMINAL, indexed_after=target not in TERMINAL,
                active=target in ACTIVE, set_lease=lease_deadline if dispatching else None,
                drop_lease=not dispatching,
                # A job that ends before it had pods gives its reservation back now; one that
                # had them keeps it until they are gone (wrapper.admission.releases). A job sent
                # back to its queue (pods not ready) gives it back now: its PyTorchJob is
                # suspended, and the node cache counts its pods until they are gone.
                release=(target in TERMINAL and current in _NO_PODS_YET) or requeued,
                queue_changed=current in _MAY_BE_QUEUED or target in _MAY_BE_QUEUED,
                fields=_encode(all_fields),
                event=transition_event(current, target, all_fields.get("reason")),
            )  # fmt: skip
            if result.applied:
                metering.count(self.redis, job_id, json.loads(team), current, target, all_fields)
                return Transition(True, current.value)
        raise RuntimeError(f"job {job_id}: status kept changing under transition to {target}")

    def reserved_ids(self) -> list[int]:
        """Jobs holding an admission reservation (admitted and not yet given back)."""
        return sorted(int(x) for x in self.redis.hkeys(keys.RESERVATIONS))

    def finished_reserved_ids(self) -> list[int]:
        """Jobs holding a reservation that have ended (or whose record is gone)."""
        return self._finished_reserved(TERMINAL)

    def seed_ids(self, above: int) -> int:
        """Make every new job id greater than `above` (ids the cluster still carries)."""
        return scripts.SeedIds(self.redis)(above)

    def request_cancel(self, job_id: int) -> None:
        """Wake the canceller; the `cancelling` index is what it acts on."""
        self.redis.lpush(keys.CANCEL_REQUESTS, job_id)
