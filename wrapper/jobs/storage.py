"""What the job store reports about itself, for the API's /metrics: how full Redis is (so an
operator sees `maxmemory` coming before writes are refused: the API answers those 503), and
the PyTorchJobs of this instance that no job record owns (leftovers after Redis lost its data,
as the watcher's last list found them: `queue_workers.watcher.mirror`)."""

import json
from dataclasses import dataclass

import redis

from wrapper.redis import keys


@dataclass(frozen=True)
class MemoryUse:
    used_bytes: int
    max_bytes: int  # 0: no maxmemory set


def memory_use(client: redis.Redis) -> MemoryUse:
    info = client.info("memory")
    return MemoryUse(int(info.get("used_memory", 0)), int(info.get("maxmemory", 0)))


def record_leftovers(client: redis.Redis, leftovers: dict[str, dict],
                     plural: str = "pytorchjobs") -> None:  # fmt: skip
    """Replace the leftover list of one kind ("namespace/name" -> what is known of it); a
    TrainJob's entry is named "trainjobs/namespace/name" (each backend's mirror lists its own)."""
    prefix = "" if plural == "pytorchjobs" else f"{plural}/"
    mine = [
        k
        for k in client.hkeys(keys.LEFTOVER_PYTORCHJOBS)
        if (k.decode().count("/") == 1) == (not prefix) and k.decode().startswith(prefix)
    ]
    with client.pipeline() as pipe:
        if mine:
            pipe.hdel(keys.LEFTOVER_PYTORCHJOBS, *mine)
        if leftovers:
            pipe.hset(
                keys.LEFTOVER_PYTORCHJOBS,
                mapping={prefix + k: json.dumps(v) for k, v in leftovers.items()},
            )
        pipe.execute()


def leftovers(client: redis.Redis) -> dict[str, dict]:
    raw = client.hgetall(keys.LEFTOVER_PYTORCHJOBS)
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def leftover_count(client: redis.Redis) -> int:
    return client.hlen(keys.LEFTOVER_PYTORCHJOBS)
