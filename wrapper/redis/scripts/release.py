"""RELEASE: give back what a job reserved at admission, and where its replicas were counted,
once its pods are gone (a job's end releases it in the same step as its status only when it
never had pods: see `wrapper.admission.releases`). The same Lua function runs inside
TRANSITION. FINISHED_RESERVED: which reserved jobs have ended, in one call."""

from redis import Redis

from wrapper.redis import keys
from wrapper.redis.scripts.changes import CHANGE_LOG_LUA
from wrapper.redis.signals import SIGNAL_CHANGE_LUA

# Give back a job's reservation (and where its replicas were counted) if it holds one.
# Idempotent: only the first HDEL finds it.
# Amounts are integer strings, negated by prefixing '-' (Lua would print big numbers as floats).
# log: {change seq, changes, changes floor, team} (CHANGE_LOG_LUA must come first).
RELEASE_LUA = """
local function release(reservations, team_usage, total_usage, wake, id, placements, pversion,
                       log)
  if redis.call('HDEL', placements, id) == 1 then
    redis.call('INCR', pversion)
    log_change(log[1], log[2], 'p:' .. id)
  end
  local r = redis.call('HGET', reservations, id)
  if not r then return end
  log_change(log[1], log[2], 'u:' .. log[4])
  trim_changes(log[2], log[3])
  redis.call('HDEL', reservations, id)
  local fields = {'cpu', 'memory', 'gpu'}
  local i = 1
  for amount in string.gmatch(r, '[^|]+') do
    if amount ~= '0' then
      redis.call('HINCRBY', team_usage, fields[i], '-' .. amount)
      redis.call('HINCRBY', total_usage, fields[i], '-' .. amount)
    end
    i = i + 1
  end
  redis.call('HINCRBY', team_usage, 'jobs', -1)
  redis.call('HINCRBY', total_usage, 'jobs', -1)
  signal_change(nil, nil, nil, wake, id)
end
"""


# KEYS: 1 reservations, 2 the team's usage, 3 total usage, 4 wake-up list, 5 placements,
#       6 placement version, 7 admission version, 8 change seq, 9 changes, 10 changes floor.
# ARGV: 1 job id, 2 team.
# Returns 1 when something was given back, 0 when the job held nothing.
LUA = (
    SIGNAL_CHANGE_LUA
    + CHANGE_LOG_LUA
    + RELEASE_LUA
    + """
local held = redis.call('HEXISTS', KEYS[1], ARGV[1]) + redis.call('HEXISTS', KEYS[5], ARGV[1])
if held == 0 then return 0 end
release(KEYS[1], KEYS[2], KEYS[3], KEYS[4], ARGV[1], KEYS[5], KEYS[6],
        {KEYS[8], KEYS[9], KEYS[10], ARGV[2]})
redis.call('INCR', KEYS[7])
return 1
"""
)


class Release:
    def __init__(self, client: Redis):
        self._script = client.register_script(LUA)

    def __call__(self, *, job_id: int, team: str) -> bool:
        """Give back job `job_id` (of `team`)'s reservation; False when it held none."""
        return bool(self._script(
            keys=[keys.RESERVATIONS, keys.team_usage(team), keys.USAGE_TOTAL,
                  keys.ADMISSION_WAKE, keys.PLACEMENTS, keys.PLACEMENT_VERSION,
                  keys.ADMISSION_VERSION, keys.CHANGE_SEQ, keys.CHANGES, keys.CHANGES_FLOOR],
            args=[job_id, team],
        ))  # fmt: skip


# The reserved jobs whose record says they ended (or is gone), read where the records are: one
# call a sweep, not a status read per reserved job (the watcher sweeps 4 times a second).
# KEYS: 1 reservations. ARGV: 1 job key prefix, 2 the terminal statuses as ",a,b,c,".
FINISHED_LUA = """
local out = {}
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
  local status = redis.call('HGET', ARGV[1] .. id, 'status')
  if not status or string.find(ARGV[2], ',' .. status .. ',', 1, true) then
    out[#out + 1] = id
  end
end
return out
"""


class FinishedReserved:
    def __init__(self, client: Redis):
        self._script = client.register_script(FINISHED_LUA)

    def __call__(self, terminal: frozenset[str]) -> list[int]:
        """Ids of the jobs holding a reservation whose status is in `terminal`, or that have
        no record left, ascending."""
        statuses = "," + ",".join(sorted(terminal)) + ","
        ids = self._script(keys=[keys.RESERVATIONS], args=[keys.job_key(""), statuses])
        return sorted(int(x) for x in ids)
