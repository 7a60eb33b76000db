"""The change log admission's snapshots follow (`keys.CHANGES`): one Lua function each script
that changes a node, a job's bound pods or placement, or a team's usage calls in the same step,
so a worker's snapshot reads only what changed since its last one."""

CHANGES_KEPT = 50_000  # members kept; a reader further behind reads everything again

# log_change(seq key, changes key, member); trim_changes(changes key, floor key)
CHANGE_LOG_LUA = f"""
local function log_change(seq, changes, member)
  redis.call('ZADD', changes, redis.call('INCR', seq), member)
end
local function trim_changes(changes, floor)
  local n = redis.call('ZCARD', changes)
  if n > {CHANGES_KEPT} then
    local cut = redis.call('ZRANGE', changes, n - {CHANGES_KEPT} - 1, n - {CHANGES_KEPT} - 1,
                           'WITHSCORES')
    redis.call('ZREMRANGEBYRANK', changes, 0, n - {CHANGES_KEPT} - 1)
    redis.call('SET', floor, cut[2])
  end
end
"""
