"""ADMIT: admit one queued job. Re-check that its whole request fits the team's limit and the
capacity of the nodes it may use against the reservations of record, then take it off its team
queue, mark it `dispatching` with a lease and reserve its resources, all in one step, so any
number of workers can never over-commit. A job already `dispatching` (its lease expired: a
worker died between reserve and create) keeps its reservation and is handed out again with a
new lease. Either way its dispatch `attempts` count goes up by one. An admission publishes
the job's `job.admitted` event on its team's stream in the same step."""

from redis import Redis

from wrapper.redis import keys
from wrapper.redis.scripts.changes import CHANGE_LOG_LUA
from wrapper.redis.scripts.events import DEFAULT_MAX_PER_TEAM, EVENT_LUA
from wrapper.redis.signals import SIGNAL_CHANGE_LUA

# KEYS: 1 team queue (sorted set), 2 queued index, 3 dispatching index, 4 dispatch leases,
#       5 team active set, 6 reservations, 7 team usage, 8 total usage, 9 admitted events,
#       10 admission version, 11 wake-up list, 12 team queue versions, 13 placements,
#       14 placement version, 15 change seq, 16 changes, 17 changes floor, 18 the team's
#       event stream, 19.. usage of every team whose pods may use the same nodes (this team
#       included)
# ARGV: 1 job key prefix, 2 job id, 3 lease deadline, 4 JSON timestamp, 5 'queued',
#       6 'dispatching', 7-9 demand cpu/memory/gpu, 10-12 team limit cpu/memory/gpu,
#       13 team max jobs, 14-16 capacity of those nodes cpu/memory/gpu, 17 now,
#       18 events cutoff, 19 wake another worker ('1'|''), 20 team, 21 the placement as JSON
#       ('' when the nodes were not known), 22 the placement version the plan was made at,
#       23 the team's status index prefix (`keys.team_status_prefix`), 24 the event stream's
#       bound
# A placement is only valid if no other placement was written or given back since the plan:
# otherwise {'capacity', 'placement'} (another worker was faster; the caller plans again).
# Any change to the team's queue bumps its queue version (workers re-read only those).
# Returns {'admitted'} | {'redispatch'} | {'stale'} | {'quota', resource} | {'capacity', resource}
LUA = (
    SIGNAL_CHANGE_LUA
    + CHANGE_LOG_LUA
    + EVENT_LUA
    + """
local jk = ARGV[1] .. ARGV[2]
local wake = nil
if ARGV[19] == '1' then wake = KEYS[11] end
local status = redis.call('HGET', jk, 'status')
if status == ARGV[6] then
  if redis.call('ZREM', KEYS[1], ARGV[2]) == 0 then return {'stale'} end
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
  redis.call('HSET', jk, 'updated_at', ARGV[4])
  redis.call('HINCRBY', jk, 'attempts', 1)
  signal_change(nil, KEYS[12], ARGV[20], wake, 'wake')
  return {'redispatch'}
end
if status ~= ARGV[5] then
  redis.call('ZREM', KEYS[1], ARGV[2])
  signal_change(nil, KEYS[12], ARGV[20], nil, nil)
  return {'stale'}
end
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then return {'stale'} end
local fields = {'cpu', 'memory', 'gpu'}
local team = redis.call('HMGET', KEYS[7], 'cpu', 'memory', 'gpu', 'jobs')
local total = {0, 0, 0}
if ARGV[21] ~= '' and (redis.call('GET', KEYS[14]) or '0') ~= ARGV[22] then
  return {'capacity', 'placement'}
end
for k = 19, #KEYS do
  local u = redis.call('HMGET', KEYS[k], 'cpu', 'memory', 'gpu')
  for i = 1, 3 do total[i] = total[i] + (tonumber(u[i]) or 0) end
end
if (tonumber(team[4]) or 0) + 1 > tonumber(ARGV[13]) then return {'quota', 'jobs'} end
for i = 1, 3 do
  local d = tonumber(ARGV[6 + i])
  if d > 0 then
    if (tonumber(team[i]) or 0) + d > tonumber(ARGV[9 + i]) then return {'quota', fields[i]} end
    if total[i] + d > tonumber(ARGV[13 + i]) then
      return {'capacity', fields[i]}
    end
  end
end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('HSET', jk, 'status', ARGV[6], 'admitted_at', ARGV[4], 'updated_at', ARGV[4])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('ZREM', ARGV[23] .. ARGV[5], ARGV[2])
redis.call('ZADD', ARGV[23] .. ARGV[6], ARGV[2], ARGV[2])
redis.call('SADD', KEYS[5], ARGV[2])
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
redis.call('HSET', KEYS[6], ARGV[2], ARGV[7] .. '|' .. ARGV[8] .. '|' .. ARGV[9])
for i = 1, 3 do
  if ARGV[6 + i] ~= '0' then
    redis.call('HINCRBY', KEYS[7], fields[i], ARGV[6 + i])
    redis.call('HINCRBY', KEYS[8], fields[i], ARGV[6 + i])
  end
end
redis.call('HINCRBY', KEYS[7], 'jobs', 1)
redis.call('HINCRBY', KEYS[8], 'jobs', 1)
redis.call('HSET', KEYS[7], 'last_admitted', ARGV[17])
redis.call('ZADD', KEYS[9], ARGV[17], ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[9], '-inf', ARGV[18])
if ARGV[21] ~= '' then
  redis.call('HSET', KEYS[13], ARGV[2], ARGV[21])
  redis.call('INCR', KEYS[14])
  log_change(KEYS[15], KEYS[16], 'p:' .. ARGV[2])
end
redis.call('HINCRBY', jk, 'attempts', 1)
log_change(KEYS[15], KEYS[16], 'u:' .. ARGV[20])
trim_changes(KEYS[16], KEYS[17])
signal_change(KEYS[10], KEYS[12], ARGV[20], wake, 'wake')
publish_event(KEYS[18], ARGV[24], 'job.admitted', jk, ARGV[2], ARGV[5])
return {'admitted'}
"""
)

Amounts = tuple[int, int, int]  # cpu (millicores), memory (bytes), gpus


class Admit:
    def __init__(self, client: Redis, max_events: int = DEFAULT_MAX_PER_TEAM):
        self._script = client.register_script(LUA)
        self._max_events = max_events

    def __call__(
        self,
        *,
        team: str,
        job_id: int,
        queue_key: str,
        queued: str,
        dispatching: str,
        lease_deadline: float,
        admitted_at: str,
        demand: Amounts,
        team_limit: Amounts,
        max_jobs: int,
        capacity: Amounts,
        sharing: list[str],
        now: float,
        events_since: float,
        wake_another: bool,
        placement: str = "",
        placement_version: str = "",
    ) -> tuple[str, str | None]:
        """Admit (or, for a job still `dispatching`, hand out again) one job of `team` from
        its queue `queue_key`. team_limit: quota (+ borrowing) the team's reservations must stay
        within; capacity: of the nodes the job may use, shared with the teams in `sharing`
        (this team included); admitted_at: a JSON timestamp; events_since: admission events
        older than this are dropped (they feed the ETA rate); wake_another: on success, wake
        another idle worker in the same step; placement: where its replicas were counted
        (JSON, '' when the nodes were not known), valid only while the placement version is
        still `placement_version`. Returns ('admitted'|'redispatch'|'stale', None) or
        ('quota'|'capacity', the resource that no longer fits, or 'placement')."""  # fmt: skip
        result = self._script(
            keys=[queue_key, keys.status_index(queued), keys.status_index(dispatching),
                  keys.DISPATCH_LEASES, keys.team_active(team), keys.RESERVATIONS,
                  keys.team_usage(team), keys.USAGE_TOTAL, keys.ADMITTED_EVENTS,
                  keys.ADMISSION_VERSION, keys.ADMISSION_WAKE, keys.QUEUE_VERSIONS,
                  keys.PLACEMENTS, keys.PLACEMENT_VERSION, keys.CHANGE_SEQ, keys.CHANGES,
                  keys.CHANGES_FLOOR, keys.team_events(team),
                  *(keys.team_usage(t) for t in sharing)],
            args=[keys.JOB_KEY_PREFIX, job_id, lease_deadline, admitted_at, queued, dispatching,
                  *demand, *team_limit, max_jobs, *capacity, now, events_since,
                  "1" if wake_another else "", team, placement, placement_version,
                  keys.team_status_prefix(team), self._max_events],
        )  # fmt: skip
        parts = [x.decode() if isinstance(x, bytes) else x for x in result]
        return parts[0], (parts[1] if len(parts) > 1 else None)
