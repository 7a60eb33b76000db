"""Telling the other processes that something an admission plan reads has changed, in one
place (Python) and one Lua function (the scripts): bump the admission version (the API redoes
its cached queue views only then), bump the team's queue version (a worker's snapshot re-reads
only the queues that changed) and wake an idle worker (workers block on the wake-up list
instead of polling)."""

from redis.client import Pipeline

from wrapper.redis import keys

WAKE_LIST_MAX = 64  # wake-ups beyond this many pending ones change nothing

# signal_change(version key or nil, queue versions key, team or nil, wake list or nil, token)
SIGNAL_CHANGE_LUA = """
local function signal_change(version, queue_versions, team, wake, token)
  if version then redis.call('INCR', version) end
  if team then redis.call('HINCRBY', queue_versions, team, 1) end
  if wake then
    redis.call('LPUSH', wake, token)
    redis.call('LTRIM', wake, 0, 63)
  end
end
"""


def signal_change(pipe: Pipeline, *, plan: bool = True, team: str | None = None,
                  wake: int = 1) -> None:  # fmt: skip
    """Queue the signal on `pipe`: the admission version (plan), `team`'s queue version, and
    `wake` wake-ups for idle workers."""
    if plan:
        pipe.incr(keys.ADMISSION_VERSION)
    if team is not None:
        pipe.hincrby(keys.QUEUE_VERSIONS, team, 1)
    if wake:
        pipe.lpush(keys.ADMISSION_WAKE, *(["wake"] * wake))
        pipe.ltrim(keys.ADMISSION_WAKE, 0, WAKE_LIST_MAX - 1)
