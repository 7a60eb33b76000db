"""A process's cache of values read from Redis keys under one prefix, kept coherent by Redis's
own client-side caching protocol: a dedicated connection turns on `CLIENT TRACKING ... BCAST
PREFIX <prefix>` redirected to itself and subscribes to `__redis__:invalidate`, so every change
to a key under the prefix (any process, any script, expiry, FLUSHDB) sends that connection the
key's name. Works on Redis 6+ over RESP2 (redis-py's own client-side cache needs Redis 7.4).

Why it is as fresh as a read from Redis for a caller that waits for an answer: Redis queues a
broadcast invalidation in the same event-loop turn as the writer's reply (measured: it is
readable here by the time the writer has its reply), so by the time anyone learns of a write
and asks us, its invalidation is in our socket. Every read first drains the socket (a
non-blocking poll, ~2 us). A value read while an invalidation of anything arrives is not
kept (a per-process epoch). The connection lost (Redis restart, failover: Sentinel kills the
demoted primary's clients) empties the cache and reads go to Redis until it is back; an entry
is kept at most `max_age` seconds, a bound on any staleness this argument does not cover (a
partitioned primary whose connections stay open).
"""

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from typing import Generic, TypeVar

import redis

log = logging.getLogger("trainq.cache")

T = TypeVar("T")
CHANNEL = "__redis__:invalidate"
RETRY_SECONDS = 1.0


class TrackedCache(Generic[T]):
    def __init__(self, client: redis.Redis, prefix: str, max_entries: int = 2048,
                 max_age: float = 2.0, clock: Callable[[], float] = time.monotonic):  # fmt: skip
        self.client = client
        self.prefix = prefix
        self.max_entries = max_entries
        self.max_age = max_age
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, T]] = {}
        self._epoch = 0
        self._conn = None
        self._pid = None
        self._retry_at = 0.0
        self._said_why = False  # (a Redis without tracking would log it every second)
        self._draining = False
        self.hits = self.misses = 0

    def read(self, key: str, load: Callable[[], T], keep: Callable[[T], bool]) -> T:
        """The value of `key`: from the cache, else `load()` (which reads Redis); a loaded
        value is kept only when `keep(value)` and nothing was invalidated meanwhile."""
        if self._quiet():  # the common case, without the lock (8 threads share it)
            entry = self._fresh(key)
            if entry is not None:
                return entry[1]
        with self._lock:
            live = self._sync()
            entry = self._fresh(key) if live else None
            if entry is not None:
                return entry[1]
            epoch = self._epoch
        self.misses += 1
        at = self.clock()
        value = load()
        if live and keep(value):
            with self._lock:
                if self._sync() and self._epoch == epoch:
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()  # (cheaper than LRU order on every hit)
                    self._entries[key] = (at, value)
        return value

    def _fresh(self, key: str) -> tuple[float, T] | None:
        """`key`'s entry if it is younger than max_age (counted as a hit)."""
        entry = self._entries.get(key)
        if entry is None or self.clock() - entry[0] >= self.max_age:
            return None
        self.hits += 1
        return entry

    def _quiet(self) -> bool:
        """True when every invalidation sent so far is applied, checked without the lock:
        nothing waits in the socket (select, which leaves redis-py's parser alone) and no
        drain is under way. In that order: a drain sets `_draining` before it reads and
        clears it once it applied what it read, so bytes gone from the socket are applied."""
        conn = self._conn
        sock = conn and conn._sock
        if sock is None or self._pid != os.getpid():
            return False
        try:
            if select.select([sock], [], [], 0)[0]:
                return False
        except (OSError, ValueError):  # closed meanwhile
            return False
        return not self._draining

    # --- the invalidation connection (called with the lock held) ---------------------------
    def _sync(self) -> bool:
        """Apply every invalidation received so far; False while there is no tracking
        connection (the cache is then empty and not used)."""
        if self._pid != os.getpid():  # a forked worker: its parent's socket is not its own
            self._conn, self._pid = None, os.getpid()
            self._drop_all()
        if self._conn is None and not self._connect():
            return False
        self._draining = True
        try:
            while self._conn.can_read(timeout=0):
                self._apply(self._conn.read_response())
        except (redis.exceptions.RedisError, OSError) as exc:
            log.warning("invalidation connection lost (%s): reading from Redis", exc)
            self._close()
            return False
        finally:
            self._draining = False
        return True

    def _apply(self, message) -> None:
        if not isinstance(message, list) or len(message) != 3 or message[0] != b"message":
            return  # (the subscribe confirmation)
        keys = message[2]
        self._epoch += 1
        if keys is None:  # FLUSHDB / FLUSHALL
            self._entries.clear()
            return
        for key in keys:
            self._entries.pop(key.decode(), None)

    def _connect(self) -> bool:
        now = self.clock()
        if now < self._retry_at:
            return False
        self._retry_at = now + RETRY_SECONDS
        conn = self.client.connection_pool.make_connection()
        try:
            conn.connect()
            conn.send_command("CLIENT", "ID")
            client_id = conn.read_response()
            conn.send_command("CLIENT", "TRACKING", "ON", "REDIRECT", client_id,
                              "BCAST", "PREFIX", self.prefix)  # fmt: skip
            conn.read_response()
            conn.send_command("SUBSCRIBE", CHANNEL)
            conn.read_response()
        except (redis.exceptions.RedisError, OSError) as exc:
            if not self._said_why:
                log.warning("no invalidation connection (%s): reading from Redis", exc)
                self._said_why = True
            conn.disconnect()
            return False
        self._conn, self._said_why = conn, False
        self._drop_all()  # anything may have changed while there was no connection
        return True

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()
        self._conn = None
        self._drop_all()

    def _drop_all(self) -> None:
        self._entries.clear()
        self._epoch += 1
