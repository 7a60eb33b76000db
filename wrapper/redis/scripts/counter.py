"""SEED_IDS: raise the job id counter to at least a floor (a Lua max: never lowers it, and a
submission between the read and the write cannot be overtaken). After Redis lost its data the
counter restarts at 0 while the cluster still carries PyTorchJobs named by old ids; seeding it
above them keeps new jobs from colliding with those names."""

from redis import Redis

from wrapper.redis import keys

# KEYS: 1 job id counter. ARGV: 1 floor. Returns the counter's value afterwards.
LUA = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local floor = tonumber(ARGV[1])
if floor > current then
  redis.call('SET', KEYS[1], ARGV[1])
  return floor
end
return current
"""


class SeedIds:
    def __init__(self, client: Redis):
        self._script = client.register_script(LUA)

    def __call__(self, floor: int) -> int:
        return int(self._script(keys=[keys.JOB_ID_COUNTER], args=[int(floor)]))
