"""Job events in Lua: the function SUBMIT, ADMIT and TRANSITION call to append a transition to
the team's event stream in the same step as the status change (an event is never lost, nor
emitted for a change that did not happen), and RECORD_DELIVERY, which notes a webhook delivery
attempt on the job's record. `wrapper.events.stream` writes the same entries from Python."""

from redis import Redis

# The default bound of a team's stream (config `events.max_per_team`).
DEFAULT_MAX_PER_TEAM = 10_000

# publish_event(stream, maxlen, event type, job hash key, job id, previous status or nil):
# the entry's `data` is read back from the record just written (name, reason, message,
# updated_at are JSON there; status is raw). Fields: type, job, data (JSON), as in Python.
EVENT_LUA = """
local function publish_event(stream, maxlen, etype, job_key, id, previous)
  local r = redis.call('HMGET', job_key, 'name', 'reason', 'message', 'updated_at', 'status')
  local function json(v) if v then return cjson.decode(v) end return cjson.null end
  local data = {id = tonumber(id), name = json(r[1]), status = r[5],
                previous_status = previous or cjson.null, reason = json(r[2]),
                message = json(r[3]), time = json(r[4])}
  return redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 'type', etype, 'job', id,
                    'data', cjson.encode(data))
end
"""

# KEYS: 1 job hash. ARGV: 1 the attempt (JSON object), 2 how many attempts a record keeps.
# A record forgotten meanwhile is not recreated as a one-field hash.
RECORD_DELIVERY_LUA = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local raw = redis.call('HGET', KEYS[1], 'webhook_deliveries')
local list = {}
if raw and raw ~= 'null' then list = cjson.decode(raw) end
table.insert(list, cjson.decode(ARGV[1]))
while #list > tonumber(ARGV[2]) do table.remove(list, 1) end
redis.call('HSET', KEYS[1], 'webhook_deliveries', cjson.encode(list))
return 1
"""


class RecordDelivery:
    def __init__(self, client: Redis):
        self._script = client.register_script(RECORD_DELIVERY_LUA)

    def __call__(self, *, job_key: str, attempt: str, kept: int) -> bool:
        """Append `attempt` (encoded JSON) to the job's `webhook_deliveries`, newest last,
        keeping `kept`; False when the record is gone."""
        return bool(self._script(keys=[job_key], args=[attempt, kept]))
