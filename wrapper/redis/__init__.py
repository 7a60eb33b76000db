"""trainq's storage layer: Redis connections, every key name (`keys`), one typed wrapper per
Lua script (`scripts`), and the one step that tells the other processes that something an
admission plan reads has changed (`signals`). Above it, each key family is read and written
by the module that owns it (docs/architecture.md)."""

from collections.abc import Sequence

import redis
from redis.backoff import NoBackoff
from redis.connection import parse_url
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelConnectionPool

from wrapper.redis import keys

# One quick retry covers a pooled connection that died with a Redis restart (or a failover);
# anything longer is an outage the caller reports (503) rather than hides.
_OPTIONS = {"socket_connect_timeout": 2, "socket_timeout": 10, "health_check_interval": 10}


def connect(url: str, sentinels: Sequence[str] = (), master: str = "") -> redis.Redis:
    """Every process's client. With `sentinels` ("host:port", ...) the client asks them for
    the primary of service `master` on each new connection, so it follows a failover; the
    password and database still come from `url` (the sentinels take the same password)."""
    if not sentinels:
        return redis.Redis.from_url(url, retry=Retry(NoBackoff(), 1), **_OPTIONS)
    parsed = parse_url(url)
    auth = {k: parsed[k] for k in ("username", "password") if parsed.get(k)}
    nodes = [(host, int(port)) for host, _, port in (s.rpartition(":") for s in sentinels)]
    sentinel = Sentinel(nodes, sentinel_kwargs={**auth, "socket_connect_timeout": 2,
                                                "socket_timeout": 2})  # fmt: skip
    return sentinel.master_for(master, db=parsed.get("db", 0), retry=Retry(NoBackoff(), 1),
                               **auth, **_OPTIONS)  # fmt: skip


def without_retry(client: redis.Redis) -> redis.Redis:
    """A client on its own pool, same settings, that never resends a command: for a step that
    must not run twice after a lost reply. A pooled connection that Redis closed is still
    noticed and replaced before anything is sent (the pool's own readiness check)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    if isinstance(pool, SentinelConnectionPool):
        kwargs.pop("connection_pool")  # the pool's own proxy, made anew below
        return redis.Redis(connection_pool=SentinelConnectionPool(
            pool.service_name, pool.sentinel_manager, is_master=True,
            max_connections=pool.max_connections, **kwargs))  # fmt: skip
    return redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class,
                                                  max_connections=pool.max_connections,
                                                  **kwargs))  # fmt: skip


def replicas_acked(pipe: redis.client.Pipeline, replicas: int, timeout_ms: int) -> None:
    """Queue on `pipe`, after its writes: a write of its own, then WAIT. The replication stream
    is ordered, so once a replica acknowledged this connection's last write it holds every
    write the primary made before it, including what a replayed request only read. The last
    reply of `pipe.execute()` is then the number of replicas that acknowledged in time."""
    pipe.incr(keys.REPLICATION_MARK)
    pipe.execute_command("WAIT", replicas, timeout_ms)
