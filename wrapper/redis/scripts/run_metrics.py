"""APPEND_METRICS: store one trainer report within its run's bounds, atomically: at most
`max_rate` reports per wall-clock second and `max_points` epoch points per run (a point for an
epoch already stored replaces it and costs nothing). Marks progress (and the first non-finite
loss) for the stall alert, and sets the keys' time to live."""

import json

from redis import Redis

from wrapper.redis import keys

RATE_LIMITED, TOO_MANY_POINTS = -1, -2

# KEYS: 1 the run's metrics hash, 2 its rate counter for this second.
# ARGV: 1 max_points, 2 max_rate, 3 ttl seconds, 4 progress_at, 5 non-finite loss JSON or '',
#       6 number of epoch fields n, then n (field, value) pairs, then other (field, value) pairs.
# Returns {0, points} when stored, {-1, rate} when rate-limited, {-2, points} when full.
LUA = """
local rate = redis.call('INCR', KEYS[2])
if rate == 1 then redis.call('EXPIRE', KEYS[2], 2) end
if rate > tonumber(ARGV[2]) then return {-1, rate} end
local points = tonumber(redis.call('HGET', KEYS[1], 'points') or '0')
local n = tonumber(ARGV[6])
local added = 0
for i = 0, n - 1 do
  if redis.call('HEXISTS', KEYS[1], ARGV[7 + 2 * i]) == 0 then added = added + 1 end
end
if points + added > tonumber(ARGV[1]) then return {-2, points} end
for i = 7, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
redis.call('HSET', KEYS[1], 'points', points + added, 'progress_at', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSETNX', KEYS[1], 'nonfinite', ARGV[5]) end
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[3]))
return {0, points + added}
"""


class AppendMetrics:
    def __init__(self, client: Redis):
        self._script = client.register_script(LUA)

    def __call__(self, *, job_id: int, second: int, epochs: dict[str, str], others: dict[str, str],
                 progress_at: str, nonfinite: dict | None, max_points: int, max_rate: int,
                 ttl: int) -> tuple[int, int]:  # fmt: skip
        args: list = [max_points, max_rate, ttl, progress_at,
                      json.dumps(nonfinite) if nonfinite else "", len(epochs)]  # fmt: skip
        for field, value in [*epochs.items(), *others.items()]:
            args += [field, value]
        keys_ = [keys.run_metrics(job_id), keys.run_metrics_rate(job_id, second)]
        code, count = self._script(keys=keys_, args=args)
        return int(code), int(count)
