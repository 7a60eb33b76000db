"""Dispatch leases: while a job is `dispatching` it holds a lease (a deadline in
`keys.DISPATCH_LEASES`). A worker that dies mid-dispatch, or a retry whose backoff is over,
lets the lease expire; whoever sweeps next (every worker, and the watcher) sends the job back
to the front of its team queue, still holding its admission reservation, for another worker to
create or adopt its PyTorchJob."""

import logging

from wrapper.config import TrainqConfig
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore

log = logging.getLogger(__name__)


def requeue_expired(store: JobStore, config: TrainqConfig) -> list[int]:
    """Send jobs whose dispatch lease expired back to the front of their team queue."""
    requeued = []
    for job_id in store.queues.take_expired_leases(config.dispatch.lease_seconds):
        record = store.get(job_id)
        if record and record["status"] == JobStatus.DISPATCHING:
            store.queues.requeue_front(record["team"], job_id)
            requeued.append(job_id)
    if requeued:
        log.info("re-queued jobs with expired dispatch leases: %s", requeued)
    return requeued
