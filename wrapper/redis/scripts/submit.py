"""SUBMIT: accept one submission in one step: a new id, the job record, its RQ job hash (fields
from RQ's own Job.to_dict), the indexes, its place in the team queue (by priority), the
Idempotency-Key record, the request nonce, the change signal (a worker woken) and the job's
`job.queued` event on its team's stream. The team's
caps (queued jobs, submission rate) are checked in the same step, so concurrent submissions
cannot overshoot them. Not safe to resend after a lost reply (it would queue a second job): run
it on a client `without_retry`, and resolve a lost reply by its nonce (`resolve_nonce`)."""

from dataclasses import dataclass

from redis import Redis

from wrapper.redis import keys
from wrapper.redis.group_commit import GroupCommit
from wrapper.redis.scripts.events import DEFAULT_MAX_PER_TEAM, EVENT_LUA
from wrapper.redis.signals import SIGNAL_CHANGE_LUA

# KEYS: 1 job id counter, 2 idempotency record (the counter again when there is none),
#       3 queued index, 4 team jobs, 5 team queue (sorted set), 6 the team's queued jobs
#       (`keys.team_status`), 7 wake-up list, 8 admission version, 9 team queue versions,
#       10 the request's nonce, 11 the team's rate bucket, 12 the team's event stream
# ARGV: 1 queue rank (`wrapper.jobs.queues.queue_rank`), 2 job key prefix, 3 queue id span,
#       4 body digest ('' without an Idempotency-Key), 5 idempotency TTL, 6 RQ job key
#       prefix, 7-8 the RQ job's description before and after the id, 9 team, 10 max queued
#       ('' none), 11 bucket size ('' no rate limit), 12 refill per second, 13 now (epoch
#       seconds), 14 nonce TTL, 15 the event stream's bound, 16 count of record field/value
#       items (n), 17..16+n record field/value pairs (all but the id), then the RQ job's
#       field/value pairs
# The queue score is rank * span + id (`wrapper.jobs.queues.queue_score`): a job goes behind
# every queued job of equal or higher priority, O(log n) at any depth; its place is its ZRANK.
# Returns {'new', job id, position} | {'replay', earlier job id} | {'conflict'} |
#         {'void'} (the nonce was voided: the caller gave up on this request) |
#         {'limit', 'max_queued_jobs' | 'per_minute', seconds to wait}
LUA = (
    SIGNAL_CHANGE_LUA
    + EVENT_LUA
    + """
if redis.call('EXISTS', KEYS[10]) == 1 then return {'void'} end
local idem = ARGV[4] ~= ''
if idem then
  local prev = redis.call('HMGET', KEYS[2], 'job_id', 'digest')
  if prev[1] then
    if prev[2] ~= ARGV[4] then return {'conflict'} end
    return {'replay', prev[1]}
  end
end
if ARGV[10] ~= '' and redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[10]) then
  return {'limit', 'max_queued_jobs', 0}
end
if ARGV[11] ~= '' then
  -- Token bucket: reads come first, so a refusal (or an OOM on the first write) writes nothing.
  local size, rate, now = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
  local b = redis.call('HMGET', KEYS[11], 'tokens', 'ts')
  local tokens = size
  if b[1] then
    tokens = math.min(size, tonumber(b[1]) + math.max(0, now - tonumber(b[2])) * rate)
  end
  if tokens < 1 then return {'limit', 'per_minute', tostring((1 - tokens) / rate)} end
  redis.call('HSET', KEYS[11], 'tokens', tostring(tokens - 1), 'ts', ARGV[13])
  redis.call('EXPIRE', KEYS[11], math.ceil(size / rate) + 1)
end
local id = redis.call('INCR', KEYS[1])
local n = tonumber(ARGV[16])
redis.call('HSET', ARGV[2] .. id, 'id', id, unpack(ARGV, 17, 16 + n))
redis.call('HSET', ARGV[6] .. id, 'description', ARGV[7] .. id .. ARGV[8], unpack(ARGV, 17 + n))
redis.call('SADD', KEYS[3], id)
redis.call('ZADD', KEYS[4], id, id)
redis.call('ZADD', KEYS[6], id, id)
-- (%.0f: a plain number argument would be sent with 14 digits, not exactly)
local score = string.format('%.0f', tonumber(ARGV[1]) * tonumber(ARGV[3]) + id)
redis.call('ZADD', KEYS[5], score, id)
local position = redis.call('ZRANK', KEYS[5], id)
signal_change(KEYS[8], KEYS[9], ARGV[9], KEYS[7], id)
if idem then
  redis.call('HSET', KEYS[2], 'job_id', id, 'digest', ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
redis.call('SET', KEYS[10], id, 'EX', ARGV[14])
publish_event(KEYS[12], ARGV[15], 'job.queued', ARGV[2] .. id, id, nil)
return {'new', id, position}
"""
)

# A request nonce answers for its submission this long: well past any reply that was lost.
NONCE_TTL_SECONDS = 600
VOID = "void"


@dataclass(frozen=True)
class SubmitResult:
    # 'new' | 'replay' (the Idempotency-Key named a job) | 'conflict' | 'void' (the nonce was
    # voided first) | 'limit' (a cap: `exceeded` names it, `retry_after` in seconds)
    outcome: str
    job_id: int | None = None
    position: int | None = None  # a new job's 0-based place in its team queue
    exceeded: str | None = None
    retry_after: float | None = None
    replicas_acked: int | None = None  # asked for: how many replicas had it in time


@dataclass(frozen=True)
class Caps:
    """The team's caps as SUBMIT checks them (None: no cap)."""

    max_queued: int | None = None
    bucket_size: int | None = None
    per_second: float = 0.0


@dataclass(frozen=True)
class RqQueue:
    """Where a team's RQ jobs live, as RQ names them."""

    job_prefix: str  # RQ job hashes


class Submit:
    def __init__(self, client: Redis, max_events: int = DEFAULT_MAX_PER_TEAM):
        # Concurrent submissions of a process share round trips (one batch in flight).
        self.group = GroupCommit(client, client.register_script(LUA))
        self._max_events = max_events

    def __call__(self, *, team: str, rank: int, id_span: int, queued: str, record: list,
                 rq: RqQueue, rq_job: list, rq_description: tuple[str, str],
                 idempotency_key: str | None, body_digest: str, idempotency_ttl: int,
                 nonce: str, caps: Caps | None = None,
                 now: float = 0.0, replicas: int = 0,
                 timeout_ms: int = 0) -> SubmitResult:  # fmt: skip
        """rank, id_span: the queue score is rank * id_span + id (`wrapper.jobs.queues`).
        record / rq_job: flat field/value pairs (encoded) of the job record (all but its
        id) and of its RQ job hash (all but its description, which is `rq_description`'s two
        halves around the id). queued: the status string of a queued job. idempotency_key:
        the Redis key of the Idempotency-Key record (None without one). nonce: unique per
        request; the script records it with the new job's id. replicas: WAIT for that many
        replicas (up to timeout_ms) on the same connection, in the same round trip (one WAIT
        for a batch of concurrent submissions: `GroupCommit`)."""
        caps = caps or Caps()
        script_keys = [keys.JOB_ID_COUNTER, idempotency_key or keys.JOB_ID_COUNTER,
                       keys.status_index(queued), keys.team_jobs(team), keys.team_queue(team),
                       keys.team_status(team, queued), keys.ADMISSION_WAKE, keys.ADMISSION_VERSION,
                       keys.QUEUE_VERSIONS, keys.submit_nonce(nonce), keys.team_submit_bucket(team),
                       keys.team_events(team)]  # fmt: skip
        args = [rank, keys.JOB_KEY_PREFIX, id_span,
                body_digest if idempotency_key else "", idempotency_ttl, rq.job_prefix,
                *rq_description, team, _opt(caps.max_queued), _opt(caps.bucket_size),
                repr(caps.per_second), repr(now), NONCE_TTL_SECONDS, self._max_events,
                len(record), *record, *rq_job]  # fmt: skip
        result, acked = self.group(script_keys, args, replicas, timeout_ms)
        outcome = result[0].decode()
        if outcome == "new":
            return SubmitResult(outcome, int(result[1]), int(result[2]), replicas_acked=acked)
        if outcome == "replay":
            return SubmitResult(outcome, int(result[1]), replicas_acked=acked)
        if outcome == "limit":
            return SubmitResult(outcome, exceeded=result[1].decode(),
                                retry_after=float(result[2]))  # fmt: skip
        return SubmitResult(outcome)


def _opt(value) -> str:
    return "" if value is None else str(value)


def resolve_nonce(client: Redis, nonce: str) -> int | None:
    """The outcome of a submission whose reply was lost, made exact: the job id its SUBMIT
    created, or None after voiding the nonce, so that a SUBMIT still in flight refuses to
    run (SET NX: whichever of the two comes first wins)."""
    key = keys.submit_nonce(nonce)
    if client.set(key, VOID, nx=True, ex=NONCE_TTL_SECONDS):
        return None
    value = client.get(key)
    if value is None or value.decode() == VOID:  # (expired meanwhile: far past any TTL race)
        return None
    return int(value)
