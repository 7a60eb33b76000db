"""Lua scripts that make multi-key job changes atomic in Redis.

Key names come from `wrapper.redis.keys` (passed as KEYS, or as a prefix for job hashes whose
ids are only known inside the script). Status strings come from `wrapper.jobs.states` via
ARGV, and the legality of each transition is decided in Python from the state table before a
script runs; the scripts only guarantee that nobody changed the status in between (compare-and-set).
"""

# Give back a job's admission reservation (if it holds one) and wake a worker; used inside
# TRANSITION when a job ends. Idempotent: only the first HDEL finds the reservation.
# Amounts are integer strings, negated by prefixing '-' (Lua would print big numbers as floats).
_RELEASE = """
local function release(reservations, team_usage, total_usage, wake, id)
  local r = redis.call('HGET', reservations, id)
  if not r then return end
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
  redis.call('LPUSH', wake, id)
  redis.call('LTRIM', wake, 0, 63)
end
"""

# Compare-and-set a job's status and keep the indexes in step; a job that ends gives back its
# admission reservation in the same step.
# KEYS: 1 job hash, 2 old status index, 3 new status index, 4 team active set, 5 dispatch leases,
#       6 reservations, 7 team usage, 8 total usage, 9 admission wake-up list, 10 admission
#       version (bumped by every status change: the API's cached queue view is then redone),
#       11 team queue versions
# ARGV: 1 job id, 2 expected status, 3 new status, 4 old indexed ('1'|''),
#       5 new indexed ('1'|''), 6 team active op ('add'|'rem'),
#       7 lease op: a deadline (set it), 'rem' (drop the lease) or '' (leave it),
#       8 release the reservation ('1'|''), 9 the team whose queue version to bump (a job
#       that may sit in its queue changes status) or '', 10.. field/value pairs to set
# Returns {1} when applied, {0, current status or ''} when the status was not the expected one.
TRANSITION = (
    _RELEASE
    + """
local current = redis.call('HGET', KEYS[1], 'status')
if current ~= ARGV[2] then return {0, current or ''} end
if #ARGV > 9 then redis.call('HSET', KEYS[1], unpack(ARGV, 10)) end
redis.call('HSET', KEYS[1], 'status', ARGV[3])
if ARGV[2] ~= ARGV[3] then
  if ARGV[4] == '1' then redis.call('SREM', KEYS[2], ARGV[1]) end
  if ARGV[5] == '1' then redis.call('SADD', KEYS[3], ARGV[1]) end
  redis.call('INCR', KEYS[10])
  if ARGV[9] ~= '' then redis.call('HINCRBY', KEYS[11], ARGV[9], 1) end
end
if ARGV[6] == 'add' then redis.call('SADD', KEYS[4], ARGV[1])
else redis.call('SREM', KEYS[4], ARGV[1]) end
if ARGV[7] == 'rem' then redis.call('ZREM', KEYS[5], ARGV[1])
elseif ARGV[7] ~= '' then redis.call('ZADD', KEYS[5], ARGV[7], ARGV[1]) end
if ARGV[8] == '1' then release(KEYS[6], KEYS[7], KEYS[8], KEYS[9], ARGV[1]) end
return {1}
"""
)

# Insert a job id into its team's RQ queue behind every queued job of equal or higher priority
# (FIFO within a priority) and return its 0-based place. Entries that are not `queued`
# (re-dispatches at the front) are never overtaken. The common case (priority not above the
# tail's) is a plain RPUSH.
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

# Accept one submission in one step: a new id, the job record, its RQ job hash (fields from
# RQ's own Job.to_dict), the indexes, its place in the team queue, the idempotency record, and
# a wake-up for idle workers. Not safe to resend after a lost reply (it would queue a second
# job): JobStore sends it without redis-py's retry.
# KEYS: 1 job id counter, 2 idempotency record (the counter again when there is none),
#       3 queued index, 4 team jobs, 5 RQ queue list, 6 RQ queues set, 7 wake-up list,
#       8 admission version, 9 team queue versions
# ARGV: 1 priority, 2 job key prefix, 3 'queued', 4 body digest ('' without an
#       Idempotency-Key), 5 idempotency TTL, 6 RQ job key prefix, 7-8 the RQ job's description
#       before and after the id, 9 team, 10 count of record field/value items (n),
#       11..10+n record field/value pairs (all but the id), then the RQ job's field/value pairs
# Returns {'new', job id, position} | {'replay', earlier job id} | {'conflict'}
SUBMIT = (
    _PUSH_BY_PRIORITY
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
redis.call('LPUSH', KEYS[7], id)
redis.call('LTRIM', KEYS[7], 0, 63)
redis.call('INCR', KEYS[8])
redis.call('HINCRBY', KEYS[9], ARGV[9], 1)
if idem then
  redis.call('HSET', KEYS[2], 'job_id', id, 'digest', ARGV[4])
  redis.call('EXPIRE', KEYS[2], ARGV[5])
end
return {'new', id, position}
"""
)

# Take the dispatch leases that expired and push each deadline forward, so exactly one
# sweeper re-dispatches a given job per lease period.
# KEYS: 1 dispatch leases. ARGV: 1 now, 2 new deadline, 3 max ids. Returns the ids.
TAKE_EXPIRED_LEASES = """
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return ids
"""

# Admit one queued job: re-check that its whole request fits the team's limit and the cluster
# capacity against the reservations of record, then take it off its team queue, mark it
# `dispatching` with a lease, and reserve its resources, all in one step, so any number of
# workers can never over-commit. A job already `dispatching` (its lease expired: a worker died
# between reserve and create) keeps its reservation and is handed out again with a new lease.
# Either way the job's dispatch `attempts` count goes up by one, and with ARGV[19] another idle
# worker is woken (the caller knows more jobs are admissible).
# KEYS: 1 team queue list, 2 queued index, 3 dispatching index, 4 dispatch leases,
#       5 team active set, 6 reservations, 7 team usage, 8 total usage, 9 admitted events,
#       10 admission version, 11 wake-up list, 12 team queue versions, 13.. usage of every
#       team whose pods may use the same nodes (this team included)
# ARGV: 1 job key prefix, 2 job id, 3 lease deadline, 4 JSON timestamp, 5 'queued',
#       6 'dispatching', 7-9 demand cpu/memory/gpu, 10-12 team limit cpu/memory/gpu,
#       13 team max jobs, 14-16 capacity of those nodes cpu/memory/gpu, 17 now,
#       18 events cutoff, 19 wake another worker ('1'|''), 20 team
# Any change to the team's queue list bumps its queue version (workers re-read only those).
# Returns {'admitted'} | {'redispatch'} | {'stale'} | {'quota', resource} | {'capacity', resource}
ADMIT = """
local jk = ARGV[1] .. ARGV[2]
local function wake()
  if ARGV[19] == '1' then
    redis.call('LPUSH', KEYS[11], 'wake')
    redis.call('LTRIM', KEYS[11], 0, 63)
  end
end
local status = redis.call('HGET', jk, 'status')
if status == ARGV[6] then
  if redis.call('LREM', KEYS[1], 0, ARGV[2]) == 0 then return {'stale'} end
  redis.call('HINCRBY', KEYS[12], ARGV[20], 1)
  redis.call('ZADD', KEYS[4], ARGV[3], ARGV[2])
  redis.call('HSET', jk, 'updated_at', ARGV[4])
  redis.call('HINCRBY', jk, 'attempts', 1)
  wake()
  return {'redispatch'}
end
if status ~= ARGV[5] then
  redis.call('LREM', KEYS[1], 0, ARGV[2])
  redis.call('HINCRBY', KEYS[12], ARGV[20], 1)
  return {'stale'}
end
if not redis.call('LPOS', KEYS[1], ARGV[2]) then return {'stale'} end
local fields = {'cpu', 'memory', 'gpu'}
local team = redis.call('HMGET', KEYS[7], 'cpu', 'memory', 'gpu', 'jobs')
local total = {0, 0, 0}
for k = 13, #KEYS do
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
redis.call('LREM', KEYS[1], 0, ARGV[2])
redis.call('HINCRBY', KEYS[12], ARGV[20], 1)
redis.call('HSET', jk, 'status', ARGV[6], 'admitted_at', ARGV[4], 'updated_at', ARGV[4])
redis.call('SREM', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
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
redis.call('INCR', KEYS[10])
redis.call('HINCRBY', jk, 'attempts', 1)
wake()
return {'admitted'}
"""
