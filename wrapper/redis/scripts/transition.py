"""TRANSITION: compare-and-set a job's status and keep everything that follows from it in the
same step: the status indexes (global and the team's), the team's active set, the dispatch
lease, and, when the job ends, its admission reservation (given back, and a worker woken) and
its place in the finished sets that retention sweeps (`wrapper.jobs.retention`), and the
transition's event on the team's stream (`wrapper.events`)."""

from dataclasses import dataclass

from redis import Redis

from wrapper.redis import keys
from wrapper.redis.scripts.changes import CHANGE_LOG_LUA
from wrapper.redis.scripts.events import DEFAULT_MAX_PER_TEAM, EVENT_LUA
from wrapper.redis.scripts.release import RELEASE_LUA
from wrapper.redis.signals import SIGNAL_CHANGE_LUA

# KEYS: 1 job hash, 2 old status index, 3 new status index, 4 team active set, 5 dispatch
#       leases, 6 reservations, 7 team usage, 8 total usage, 9 wake-up list, 10 admission
#       version, 11 team queue versions, 12 placements, 13 placement version, 14 change seq,
#       15 changes, 16 changes floor, 17 finished records, 18 finished PyTorchJobs, 19-20 the
#       team's old and new status index (`keys.team_status`), 21 the team's event stream
# ARGV: 1 job id, 2 expected status, 3 new status, 4 old indexed ('1'|''), 5 new indexed
#       ('1'|''), 6 team active op ('add'|'rem'), 7 lease op: a deadline (set it), 'rem' (drop
#       it) or '' (leave it), 8 release the reservation ('1'|''), 9 the team whose queue version
#       to bump or '', 10 the job's team, 11 the event type ('' none), 12 the stream's
#       bound, 13.. field/value pairs to set
# Returns {1} when applied, {0, current status or ''} when the status was not the expected one.
LUA = (
    SIGNAL_CHANGE_LUA
    + CHANGE_LOG_LUA
    + RELEASE_LUA
    + EVENT_LUA
    + """
local current = redis.call('HGET', KEYS[1], 'status')
if current ~= ARGV[2] then return {0, current or ''} end
if #ARGV > 12 then redis.call('HSET', KEYS[1], unpack(ARGV, 13)) end
redis.call('HSET', KEYS[1], 'status', ARGV[3])
if ARGV[2] ~= ARGV[3] then
  redis.call('ZREM', KEYS[19], ARGV[1])
  redis.call('ZADD', KEYS[20], ARGV[1], ARGV[1])
  if ARGV[4] == '1' then redis.call('SREM', KEYS[2], ARGV[1]) end
  if ARGV[5] == '1' then redis.call('SADD', KEYS[3], ARGV[1])
  else
    -- Ended: retention counts from now (the server's clock, one for every process).
    local t = redis.call('TIME')
    local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
    redis.call('ZADD', KEYS[17], now, ARGV[1])
    redis.call('ZADD', KEYS[18], now, ARGV[1])
  end
  local team = nil
  if ARGV[9] ~= '' then team = ARGV[9] end
  signal_change(KEYS[10], KEYS[11], team, nil, nil)
  if ARGV[11] ~= '' then
    publish_event(KEYS[21], ARGV[12], ARGV[11], KEYS[1], ARGV[1], ARGV[2])
  end
end
if ARGV[6] == 'add' then redis.call('SADD', KEYS[4], ARGV[1])
else redis.call('SREM', KEYS[4], ARGV[1]) end
if ARGV[7] == 'rem' then redis.call('ZREM', KEYS[5], ARGV[1])
elseif ARGV[7] ~= '' then redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1]) end
if ARGV[8] == '1' then
  release(KEYS[6], KEYS[7], KEYS[8], KEYS[9], ARGV[1], KEYS[12], KEYS[13],
          {KEYS[14], KEYS[15], KEYS[16], ARGV[10]})
end
return {1}
"""
)


@dataclass(frozen=True)
class TransitionResult:
    applied: bool
    current: str | None  # when not applied: the status found instead (None: no such job)


def _flag(value: bool) -> str:
    return "1" if value else ""


class Transition:
    def __init__(self, client: Redis, max_events: int = DEFAULT_MAX_PER_TEAM):
        self._script = client.register_script(LUA)
        self._max_events = max_events

    def __call__(self, *, job_id: int, team: str, expected: str, target: str,
                 indexed_before: bool, indexed_after: bool, active: bool,
                 set_lease: float | None = None, drop_lease: bool = False,
                 release: bool = False, queue_changed: bool = False,
                 fields: list, event: str | None = None) -> TransitionResult:  # fmt: skip
        """Set `fields` (flat field/value pairs, encoded) and the status `target` if the job's
        status is still `expected`. indexed_*: whether the old/new status has an index (ended
        jobs have none); active: the job counts among its team's dispatched jobs; set_lease /
        drop_lease: its dispatch lease; release: give back its reservation; queue_changed: it
        may sit in its team queue (bump that queue's version); event: the type published
        on the team's stream when the status changes (None: no event)."""
        lease = str(set_lease) if set_lease is not None else ("rem" if drop_lease else "")
        result = self._script(
            keys=[keys.job_key(job_id), keys.status_index(expected), keys.status_index(target),
                  keys.team_active(team), keys.DISPATCH_LEASES, keys.RESERVATIONS,
                  keys.team_usage(team), keys.USAGE_TOTAL, keys.ADMISSION_WAKE,
                  keys.ADMISSION_VERSION, keys.QUEUE_VERSIONS, keys.PLACEMENTS,
                  keys.PLACEMENT_VERSION, keys.CHANGE_SEQ, keys.CHANGES, keys.CHANGES_FLOOR,
                  keys.FINISHED_JOBS, keys.FINISHED_PYTORCHJOBS,
                  keys.team_status(team, expected), keys.team_status(team, target),
                  keys.team_events(team)],
            args=[job_id, expected, target, _flag(indexed_before), _flag(indexed_after),
                  "add" if active else "rem", lease, _flag(release),
                  team if queue_changed else "", team, event or "", self._max_events,
                  *fields],
        )  # fmt: skip
        if result[0] == 1:
            return TransitionResult(True, None)
        return TransitionResult(False, result[1].decode() or None)
