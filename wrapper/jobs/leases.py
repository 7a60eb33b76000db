"""Dispatch leases: while a job is `dispatching` it holds a lease (a deadline in
`keys.DISPATCH_LEASES`). A worker that dies mid-dispatch, or a retry whose backoff is over,
lets the lease expire; whoever sweeps next (every worker, and the watcher) sends the job back
to the front of its team queue, still holding its admission reservation, for another worker to
create or adopt its PyTorchJob."""

import logging
import time

from wrapper.config import TrainqConfig
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis.scripts import TakeExpiredLeases
from wrapper.redis.scripts.leases import RetryNow

log = logging.getLogger(__name__)


def take_expired(store: JobStore, lease_seconds: float, limit: int = 100) -> list[int]:
    """The jobs whose lease expired, each lease pushed forward by `lease_seconds` in the same
    step, so one sweeper re-queues a given job per lease period."""
    now = time.time()
    take = TakeExpiredLeases(store.redis)
    return take(now=now, new_deadline=now + lease_seconds, limit=limit)


def requeue_expired(store: JobStore, config: TrainqConfig) -> list[int]:
    """Send jobs whose dispatch lease expired back to the front of their team queue."""
    requeued = []
    for job_id in take_expired(store, config.dispatch.lease_seconds):
        record = store.get(job_id)
        if record and record["status"] == JobStatus.DISPATCHING:
            store.queues.requeue_front(record["team"], job_id)
            requeued.append(job_id)
    if requeued:
        log.info("re-queued jobs with expired dispatch leases: %s", requeued)
    return requeued


def retry_now(store: JobStore, retrying_field: str) -> int:
    """End every waiting dispatch retry's backoff (its lease): the next sweep re-queues them.
    For when the apiserver answers again after an outage: each job's backoff grew while it was
    down, and waiting it out would add up to backoff_max_seconds to the recovery."""
    return RetryNow(store.redis)(now=time.time(), retrying_field=retrying_field)
