"""Cancelling a job: a queued job ends at once (taken off its queue); a dispatched one, or a
queued one that still has a (suspended) PyTorchJob, becomes `cancelling`, and the watcher
deletes its PyTorchJob (it is `cancelled` once that is gone)."""

from wrapper.clock import utcnow
from wrapper.jobs.states import DISPATCHED, JobStatus
from wrapper.jobs.store import JobStore

ATTEMPTS = 5
# Not dispatched: a suspended job is cancelled as a queued one (with a suspended PyTorchJob, or
# one still to be suspended, the watcher deletes it first).
_WAITING = frozenset({JobStatus.QUEUED, JobStatus.SUSPENDED})


class AlreadyFinished(Exception):
    def __init__(self, status: JobStatus):
        super().__init__(status.value)
        self.status = status


def cancel(store: JobStore, record: dict, by: str) -> bool:
    """Cancel the job of `record` on behalf of `by` ("admin", "team alpha"). Returns whether
    this call changed it (False: it was cancelling or cancelled already, which is harmless).
    Raises AlreadyFinished for a job that succeeded or failed."""
    job_id, team = record["id"], record["team"]
    message = f"cancelled by {by}"
    # Each attempt is a compare-and-set; a race (a worker claiming the job meanwhile) makes
    # the next attempt see the new status.
    for _ in range(ATTEMPTS):
        status = JobStatus(record["status"])
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            raise AlreadyFinished(status)
        if status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
            return False
        if status in _WAITING and record.get("pytorchjob"):
            # Re-queued after its pods were not ready: its suspended PyTorchJob is deleted by
            # the watcher first (wrapper.admission.readiness).
            fields = {"reason": "Cancelling", "message": message}
            if store.transition(job_id, JobStatus.CANCELLING, fields, expect={status}).applied:
                store.queues.remove(team, job_id)
                store.request_cancel(job_id)
                return True
        elif status in _WAITING:
            fields = {"reason": "Cancelled", "message": message, "finished_at": utcnow()}
            if store.transition(job_id, JobStatus.CANCELLED, fields, expect={status}).applied:
                store.queues.remove(team, job_id)
                return True
        elif status in DISPATCHED:
            fields = {"reason": "Cancelling", "message": message}
            if store.transition(job_id, JobStatus.CANCELLING, fields, expect={status}).applied:
                store.request_cancel(job_id)
                return True
        record = store.get(job_id) or record
    return False
