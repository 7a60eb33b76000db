"""TAKE_EXPIRED_LEASES: take the dispatch leases that expired and push each deadline forward,
so exactly one sweeper re-queues a given job per lease period. RETRY_NOW: end the backoff of
every job waiting to retry its dispatch (its lease is its retry time), so the next sweep
re-queues them all."""

from redis import Redis

from wrapper.redis import keys

LUA = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""


class TakeExpiredLeases:
    def __init__(self, client: Redis):
        self._script = client.register_script(LUA)

    def __call__(self, *, now: float, new_deadline: float, limit: int) -> list[int]:
        ids = self._script(keys=[keys.DISPATCH_LEASES], args=[now, new_deadline, limit])
        return [int(x) for x in ids]


RETRY_NOW_LUA = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf', 'LIMIT', 0,
                       tonumber(ARGV[4]))
local n = 0
for _, id in ipairs(ids) do
  local key = ARGV[2] .. id
  local since = redis.call('HGET', key, ARGV[3])
  if since and since ~= 'null' and redis.call('HGET', key, 'status') == 'dispatching' then
    redis.call('ZADD', KEYS[1], ARGV[1], id)
    n = n + 1
  end
end
return n
"""


class RetryNow:
    def __init__(self, client: Redis):
        self._script = client.register_script(RETRY_NOW_LUA)

    def __call__(self, *, now: float, retrying_field: str, limit: int = 1000) -> int:
        """Set the lease of each job whose `retrying_field` is set (a dispatch retry waiting
        out its backoff; an in-flight dispatch has none) to `now`; how many."""
        return int(self._script(keys=[keys.DISPATCH_LEASES],
                                args=[now, keys.job_key(""), retrying_field, limit]))  # fmt: skip
