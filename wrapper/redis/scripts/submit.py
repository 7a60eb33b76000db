"""SUBMIT: accept one submission in one step: a new id, the job record, its RQ job hash (fields
from RQ's own Job.to_dict), the indexes, its place in the team queue (by priority), the
Idempotency-Key record, and the change signal (a worker woken). Not safe to resend after a
lost reply (it would queue a second job): run it on a client `without_retry`."""

from dataclasses import dataclass

from redis import Redis

from wrapper.redis import keys
from wrapper.redis.signals import SIGNAL_CHANGE_LUA

# Insert a job id behind every queued job of equal or higher priority (FIFO within a priority)
# and return its 0-based place. Entries that are not `queued` (re-dispatches at the front) are
# never overtaken. The common case (priority not above the tail's) is a plain RPUSH.
_PUSH_BY_PRIORITY = """
local function push_by_priority(queue, id, priority, prefix, queued)
  local p = tonumber(priority)
  local function prio(other)
    return tonumber(redis.call('HGET', prefix .. other, 'priority') or '0') or 0
  end
  local tail = redis.call('LINDEX', queue, -1)
  if (not tail) or prio(tail) >= p then return redis.call('RPUSH', queue, id) - 1 end
  local ids = redis.call('LRANGE', queue, 0, -1)
  for i, other in ipairs(ids) do
    if redis.call('HGET', prefix .. other, 'status') == queued and prio(other) < p then
      redis.call('LINSERT', queue, 'BEFORE', other, id)
      return i - 1
    end
  end
  return redis.call('RPUSH', queue, id) - 1
end
"""

# KEYS: 1 job id counter, 2 idempotency record (the counter again when there is none),
#       3 queued index, 4 team jobs, 5 RQ queue list, 6 RQ queues set, 7 wake-up list,
#       8 admission version, 9 team queue versions
# ARGV: 1 priority, 2 job key prefix, 3 'queued', 4 body digest ('' without an
#       Idempotency-Key), 5 idempotency TTL, 6 RQ job key prefix, 7-8 the RQ job's description
#       before and after the id, 9 team, 10 count of record field/value items (n),
#       11..10+n record field/value pairs (all but the id), then the RQ job's field/value pairs
# Returns {'new', job id, position} | {'replay', earlier job id} | {'conflict'}
LUA = (
    SIGNAL_CHANGE_LUA
    + _PUSH_BY_PRIORITY
    + """
local idem = ARGV[4] ~= ''
if idem then
  local prev = redis.call('HMGET', KEYS[2], 'job_id', 'digest')
  if prev[1] then
    if prev[2] ~= ARGV[4] then return {'conflict'} end
    return {'replay', prev[1]}
  end
end
local id = redis.call('INCR', KEYS[1])
local n = tonumber(ARGV[10])
redis.call('HSET', ARGV[2] .. id, 'id', id, unpack(ARGV, 11, 10 + n))
redis.call('HSET', ARGV[6] .. id, 'description', ARGV[7] .. id .. ARGV[8], unpack(ARGV, 11 + n))
redis.call('SADD', KEYS[3], id)
redis.call('ZADD', KEYS[4], id, id)
redis.call('SADD', KEYS[6], KEYS[5])
local position = push_by_priority(KEYS[5], id, ARGV[1], ARGV[2], ARGV[3])
signal_change(KEYS[8], KEYS[9], ARGV[9], KEYS[7], id)
if idem then
  redis.call('HSET', KEYS[2], 'job_id', id, 'digest', ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return {'new', id, position}
"""
)


@dataclass(frozen=True)
class SubmitResult:
    outcome: str  # 'new' | 'replay' (the Idempotency-Key named a job) | 'conflict'
    job_id: int | None = None
    position: int | None = None  # a new job's 0-based place in its team queue


@dataclass(frozen=True)
class RqQueue:
    """Where a team's RQ jobs live, as RQ names them."""

    key: str  # the queue's list
    queues_set: str  # RQ's set of queue keys
    job_prefix: str  # RQ job hashes


class Submit:
    def __init__(self, client: Redis):
        self._script = client.register_script(LUA)

    def __call__(self, *, team: str, priority: int, queued: str, record: list, rq: RqQueue,
                 rq_job: list, rq_description: tuple[str, str], idempotency_key: str | None,
                 body_digest: str, idempotency_ttl: int) -> SubmitResult:  # fmt: skip
        """record / rq_job: flat field/value pairs (encoded) of the job record (all but its
        id) and of its RQ job hash (all but its description, which is `rq_description`'s two
        halves around the id). queued: the status string of a queued job. idempotency_key:
        the Redis key of the Idempotency-Key record (None without one)."""
        result = self._script(
            keys=[keys.JOB_ID_COUNTER, idempotency_key or keys.JOB_ID_COUNTER,
                  keys.status_index(queued), keys.team_jobs(team), rq.key, rq.queues_set,
                  keys.ADMISSION_WAKE, keys.ADMISSION_VERSION, keys.QUEUE_VERSIONS],
            args=[priority, keys.JOB_KEY_PREFIX, queued,
                  body_digest if idempotency_key else "", idempotency_ttl, rq.job_prefix,
                  *rq_description, team, len(record), *record, *rq_job],
        )  # fmt: skip
        outcome = result[0].decode()
        if outcome == "new":
            return SubmitResult(outcome, int(result[1]), int(result[2]))
        if outcome == "replay":
            return SubmitResult(outcome, int(result[1]))
        return SubmitResult(outcome)
