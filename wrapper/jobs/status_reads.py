"""Status reads of jobs past their queue, answered from the process's cache of their records
(clients poll a running job's status; most polls find it unchanged). The cache is kept
coherent by Redis itself (wrapper.redis.tracking): a read shows every write acknowledged
before it, from any process. A queued job is read from Redis each time: its answer (place,
reason, ETA) depends on every queue, not only on its own record."""

from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import keys
from wrapper.redis.tracking import TrackedCache


def _past_queue(read: tuple[dict | None, bytes | None]) -> bool:
    return read[0] is not None and read[0]["status"] != JobStatus.QUEUED


class StatusReads:
    def __init__(self, store: JobStore):
        self.store = store
        self.cache = TrackedCache(store.redis, keys.JOB_KEY_PREFIX)

    def read(self, job_id: int) -> tuple[dict | None, bytes | None]:
        """`JobStore.get_with_version`, from the cache where it may be."""
        return self.cache.read(
            keys.job_key(job_id), lambda: self.store.get_with_version(job_id), _past_queue
        )
