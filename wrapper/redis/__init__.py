"""trainq's storage layer: Redis connections, every key name (`keys`), one typed wrapper per
Lua script (`scripts`), and the one step that tells the other processes that something an
admission plan reads has changed (`signals`). Above it, each key family is read and written
by the module that owns it (docs/architecture.md)."""

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def connect(url: str) -> redis.Redis:
    # One quick retry covers a pooled connection that died with a Redis restart; anything
    # longer is an outage the caller reports (503) rather than hides.
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=2,
        socket_timeout=10,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=10,
    )


def without_retry(client: redis.Redis) -> redis.Redis:
    """A client on its own pool, same settings, that never resends a command: for a step that
    must not run twice after a lost reply. A pooled connection that Redis closed is still
    noticed and replaced before anything is sent (the pool's own readiness check)."""
    pool = client.connection_pool
    kwargs = {**pool.connection_kwargs, "retry": Retry(NoBackoff(), 0)}
    return redis.Redis(connection_pool=type(pool)(connection_class=pool.connection_class,
                                                  max_connections=pool.max_connections,
                                                  **kwargs))  # fmt: skip
