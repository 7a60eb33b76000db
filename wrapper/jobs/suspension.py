"""A team suspends and resumes its own jobs (`POST .../suspend`, `.../resume`).

Suspending a queued job takes it out of its queue; suspending a dispatched one (`created`,
`running`, `restarting`) gives its reservation back in the same step, and the watcher suspends
its PyTorchJob (`queue_workers.watcher.readiness`: the operator deletes its pods; until then the
node cache counts them, so nothing is admitted into their room). A suspended job holds nothing.
Resuming puts it back at its place in its team queue (its priority and id: the place it had),
and when admission picks it again, dispatch resumes its PyTorchJob where it has one."""

from wrapper.clock import utcnow
from wrapper.jobs.preemption import run_seconds
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore

SUSPENDABLE = frozenset({JobStatus.QUEUED, JobStatus.CREATED, JobStatus.RUNNING,
                         JobStatus.RESTARTING})  # fmt: skip
ATTEMPTS = 5


class NotNow(Exception):
    """The job's status does not allow it (the status is the message)."""

    def __init__(self, status: JobStatus):
        super().__init__(status.value)
        self.status = status


def suspend(store: JobStore, record: dict, by: str) -> bool:
    """Suspend the job of `record` on behalf of `by`. Returns whether this call changed it
    (False: suspended already). Raises NotNow for a job being dispatched or cancelled, or
    finished."""
    job_id, team = record["id"], record["team"]
    for _ in range(ATTEMPTS):
        status = JobStatus(record["status"])
        if status == JobStatus.SUSPENDED:
            return False
        if status not in SUSPENDABLE:
            raise NotNow(status)
        fields = {"reason": "Suspended", "message": f"suspended by {by}",
                  "suspended_at": utcnow(), "pytorchjob_suspended": None, "ready_at": None,
                  "suspensions": int(record.get("suspensions") or 0) + 1,
                  "run_seconds": run_seconds(record)}  # fmt: skip
        if store.transition(job_id, JobStatus.SUSPENDED, fields, expect={status}).applied:
            if status == JobStatus.QUEUED:
                store.queues.set_aside(team, job_id)
            return True
        record = store.get(job_id) or record
    return False


def resume(store: JobStore, record: dict, by: str) -> bool:
    """Put a suspended job back at its place in its team queue. Returns whether this call
    changed it (False: it is queued already, e.g. resumed twice). Raises NotNow otherwise."""
    job_id, team = record["id"], record["team"]
    status = JobStatus(record["status"])
    if status == JobStatus.QUEUED:
        return False
    if status != JobStatus.SUSPENDED:
        raise NotNow(status)
    fields = {"reason": "Resumed", "message": f"resumed by {by}", "suspended_at": None}
    result = store.transition(job_id, JobStatus.QUEUED, fields, expect={JobStatus.SUSPENDED})
    if not result.applied:
        if result.previous == JobStatus.QUEUED:
            return False
        raise NotNow(JobStatus(result.previous))
    store.queues.requeue_in_place(team, job_id, record["spec"]["priority"])
    return True
