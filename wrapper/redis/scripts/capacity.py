"""CAPACITY: write what changed in the node and pod cache (nodes, where trainq's pods are
bound), log each change for admission's snapshots, confirm the cache (`updated_at`) and, when
something changed, bump the admission version and wake a worker (capacity may have grown)."""

from redis import Redis

from wrapper.redis import keys
from wrapper.redis.scripts.changes import CHANGE_LOG_LUA
from wrapper.redis.signals import SIGNAL_CHANGE_LUA

# KEYS: 1 cached nodes, 2 cached bound pods, 3 capacity (updated_at), 4 change seq,
#       5 changes, 6 changes floor, 7 admission version, 8 wake-up list
# ARGV: 1 now, 2-3 how many nodes and bound entries the writer believes are cached (a Redis
#       that lost its data holds fewer: -1, nothing written, and the writer compares again),
#       then triples: kind ('n' node | 'b' bound pods), field, value ('' deletes)
LUA = (
    SIGNAL_CHANGE_LUA
    + CHANGE_LOG_LUA
    + """
if redis.call('HLEN', KEYS[1]) ~= tonumber(ARGV[2]) or
   redis.call('HLEN', KEYS[2]) ~= tonumber(ARGV[3]) then return -1 end
for i = 4, #ARGV, 3 do
  local hash = KEYS[1]
  if ARGV[i] == 'b' then hash = KEYS[2] end
  if ARGV[i + 2] == '' then redis.call('HDEL', hash, ARGV[i + 1])
  else redis.call('HSET', hash, ARGV[i + 1], ARGV[i + 2]) end
  log_change(KEYS[4], KEYS[5], ARGV[i] .. ':' .. ARGV[i + 1])
end
redis.call('HSET', KEYS[3], 'updated_at', ARGV[1])
if #ARGV > 3 then
  signal_change(KEYS[7], nil, nil, KEYS[8], 'wake')
  trim_changes(KEYS[5], KEYS[6])
end
return (#ARGV - 3) / 3
"""
)


class WriteCapacity:
    def __init__(self, client: Redis):
        self._script = client.register_script(LUA)

    def __call__(self, *, now: float, cached: tuple[int, int],
                 changes: list[tuple[str, str, bytes | str]]) -> int:  # fmt: skip
        """Apply `changes` ((kind 'n'|'b', field, value or '' to delete)) to a cache believed
        to hold `cached` (nodes, bound entries); how many, or -1 when it holds another count
        (nothing written)."""
        return int(self._script(
            keys=[keys.CACHED_NODES, keys.CACHED_BOUND, keys.CAPACITY, keys.CHANGE_SEQ,
                  keys.CHANGES, keys.CHANGES_FLOOR, keys.ADMISSION_VERSION, keys.ADMISSION_WAKE],
            args=[now, *cached, *(x for change in changes for x in change)],
        ))  # fmt: skip
