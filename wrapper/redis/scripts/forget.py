"""FORGET: delete a finished job's record with every key that names it (team list, finished
sets, its RQ job hash, its Idempotency-Key and submission nonce, a stale backoff entry), in one
step, and only while it is finished and holds no reservation (its pods are gone). And
PYTORCHJOB_GONE: note on a finished record that retention deleted its PyTorchJob."""

from redis import Redis

from wrapper.redis import keys

# KEYS: 1 job hash, 2 team jobs, 3 finished records, 4 finished PyTorchJobs, 5 reservations,
#       6 RQ job hash, 7 Idempotency-Key record (the job hash again when none), 8 nonce
#       (the job hash again when none), 9 admission backoff, 10 team active set
# ARGV: 1 job id, 2 the team's status index prefix (`keys.team_status_prefix`), 3 count of
#       terminal statuses (n), 4..3+n the terminal statuses, then every other status (a
#       missing record's index entries are dropped from each)
# Returns 'forgotten' | 'missing' (no record: index entries dropped) | 'held' (reserved or
#         not finished: nothing done)
FORGET_LUA = """
local status = redis.call('HGET', KEYS[1], 'status')
if status then
  local finished = false
  for i = 4, 3 + tonumber(ARGV[3]) do if status == ARGV[i] then finished = true end end
  if (not finished) or redis.call('HEXISTS', KEYS[5], ARGV[1]) == 1 then return 'held' end
end
if KEYS[7] ~= KEYS[1] and redis.call('HGET', KEYS[7], 'job_id') == ARGV[1] then
  redis.call('DEL', KEYS[7])
end
if KEYS[8] ~= KEYS[1] and redis.call('GET', KEYS[8]) == ARGV[1] then redis.call('DEL', KEYS[8]) end
redis.call('DEL', KEYS[1], KEYS[6])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[9], ARGV[1])
redis.call('SREM', KEYS[10], ARGV[1])
if status then
  redis.call('ZREM', ARGV[2] .. status, ARGV[1])
  return 'forgotten'
end
for i = 4, #ARGV do redis.call('ZREM', ARGV[2] .. ARGV[i], ARGV[1]) end
return 'missing'
"""

# KEYS: 1 job hash, 2 finished PyTorchJobs. ARGV: 1 job id, 2 field, 3 value (encoded)
# A record deleted meanwhile is not recreated as a one-field hash. The ZREM comes first: at
# maxmemory Redis refuses only a script's first write that may grow memory, and a ZREM never
# does, so retention keeps working (and freeing memory) when Redis is full.
PYTORCHJOB_GONE_LUA = """
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[2], ARGV[3]) end
"""


class Forget:
    def __init__(self, client: Redis):
        self._script = client.register_script(FORGET_LUA)

    def __call__(self, *, job_id: int, team: str, rq_job_key: str, idempotency_key: str | None,
                 nonce: str | None, terminal: list[str], others: list[str]) -> str:  # fmt: skip
        """terminal: the statuses a record may be forgotten in; others: every other status."""
        job_key = keys.job_key(job_id)
        nonce_key = keys.submit_nonce(nonce) if nonce else job_key
        result = self._script(
            keys=[job_key, keys.team_jobs(team), keys.FINISHED_JOBS, keys.FINISHED_PYTORCHJOBS,
                  keys.RESERVATIONS, rq_job_key, idempotency_key or job_key, nonce_key,
                  keys.ADMISSION_BACKOFF, keys.team_active(team)],
            args=[job_id, keys.team_status_prefix(team), len(terminal), *terminal, *others],
        )  # fmt: skip
        return result.decode()


class PyTorchJobGone:
    def __init__(self, client: Redis):
        self._script = client.register_script(PYTORCHJOB_GONE_LUA)

    def __call__(self, *, job_id: int, field: str, value: str) -> None:
        self._script(keys=[keys.job_key(job_id), keys.FINISHED_PYTORCHJOBS],
                     args=[job_id, field, value])  # fmt: skip
