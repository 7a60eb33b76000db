"""Group commit: the calls of one Lua script that a process's threads make while another of
them is waiting on Redis go in one pipeline (one write, one read, one WAIT when replicas must
acknowledge) instead of a round trip each. Under load most of a submission's cost in the API
process was its own round trip (packing, the send, the wake-up after the read); a lone call
goes as before, so nothing waits for company.

One batch is in flight per process; the thread that takes the turn sends whatever calls are
pending then (its own among them). Each call's reply (or error) is its own: a script error or
an OOM refusal of one call leaves the others alone. A lost connection fails every call of
the batch with the same error, and each caller resolves what happened by its own means
(SUBMIT: by its nonce), as it does for a lone call. Commands are never resent, except those
Redis refused with NOSCRIPT (they did not run)."""

import threading

from redis import Redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

from wrapper.redis import replicas_acked

MAX_BATCH = 64


class _Call:
    __slots__ = ("acked", "args", "done", "error", "keys", "replicas", "reply", "timeout_ms")

    def __init__(self, keys: list, args: list, replicas: int, timeout_ms: int):
        self.keys, self.args = keys, args
        self.replicas, self.timeout_ms = replicas, timeout_ms
        self.reply = self.acked = self.error = None
        self.done = False


class GroupCommit:
    def __init__(self, client: Redis, script: Script, max_batch: int = MAX_BATCH):
        self._client = client
        self._script = script
        self._max_batch = max_batch
        self._pending: list[_Call] = []
        self._mu = threading.Lock()  # guards _pending
        self._turn = threading.Lock()  # one batch in flight
        self.batches = self.calls = 0  # sent so far (what grouping achieved)

    def __call__(self, keys: list, args: list, replicas: int = 0,
                 timeout_ms: int = 0) -> tuple[list, int | None]:  # fmt: skip
        """The script's reply, and (replicas asked) how many replicas acknowledged in time.
        Raises what Redis or the connection raised for this call."""
        call = _Call(keys, args, replicas, timeout_ms)
        with self._mu:
            self._pending.append(call)
        while not call.done:  # (a batch taken before ours may have been full)
            with self._turn:
                if call.done:
                    break
                with self._mu:
                    batch = self._pending[: self._max_batch]
                    del self._pending[: self._max_batch]
                self._send(batch)
        if call.error is not None:
            raise call.error
        return call.reply, call.acked

    def _send(self, batch: list[_Call]) -> None:
        self.batches += 1
        self.calls += len(batch)
        try:
            if len(batch) == 1 and not batch[0].replicas:
                call = batch[0]
                call.reply = self._script(keys=call.keys, args=call.args)  # loads on NOSCRIPT
            else:
                self._pipeline(batch)
        except Exception as exc:  # noqa: BLE001 - the connection's error is every caller's
            for call in batch:
                if call.reply is None and call.error is None:
                    call.error = exc
        finally:
            for call in batch:
                call.done = True

    def _pipeline(self, batch: list[_Call]) -> None:
        todo = batch
        for attempt in (1, 2):
            replicas = max(c.replicas for c in todo)
            pipe = self._client.pipeline(transaction=False)
            for c in todo:
                pipe.evalsha(self._script.sha, len(c.keys), *c.keys, *c.args)
            if replicas:
                replicas_acked(pipe, replicas, max(c.timeout_ms for c in todo))
            replies = pipe.execute(raise_on_error=False)
            acked = replies[-1] if replicas else None
            again = []
            for c, reply in zip(todo, replies, strict=False):
                if isinstance(reply, NoScriptError) and attempt == 1:
                    again.append(c)  # it did not run: safe to send once more
                elif isinstance(reply, Exception):
                    c.error = reply
                elif isinstance(acked, Exception):
                    c.error = acked  # it ran, but its replication is unknown
                else:
                    c.reply, c.acked = reply, acked
            if not again:
                return
            self._client.script_load(self._script.script)
            todo = again
