"""TAKE_EXPIRED_LEASES: take the dispatch leases that expired and push each deadline forward,
so exactly one sweeper re-queues a given job per lease period."""

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
