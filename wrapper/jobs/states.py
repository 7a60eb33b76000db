"""The job state machine, written down once: the statuses and which transitions are legal.

Every writer (API, dispatch, watcher) goes through `wrapper.jobs.store.JobStore.transition`, which
checks this table and applies the change with a compare-and-set Lua script, so concurrent
writers cannot produce an illegal transition.
"""

from enum import StrEnum


class JobStatus(StrEnum):
    QUEUED = "queued"
    DISPATCHING = "dispatching"
    CREATED = "created"
    RUNNING = "running"
    RESTARTING = "restarting"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"
    SUSPENDED = "suspended"


S = JobStatus
TERMINAL = frozenset({S.SUCCEEDED, S.FAILED, S.CANCELLED})
# Statuses mirrored from a PyTorchJob by the watcher.
FROM_PYTORCHJOB = frozenset({S.CREATED, S.RUNNING, S.RESTARTING, S.SUCCEEDED, S.FAILED})
# Dispatched and not finished: counts against the team's running jobs.
ACTIVE = frozenset({S.DISPATCHING, S.CREATED, S.RUNNING, S.RESTARTING, S.CANCELLING})
# Handed to a worker and neither finished nor being cancelled.
DISPATCHED = ACTIVE - {S.CANCELLING}

# A self-transition (x -> x) is a field refresh: dispatching renews its lease, mirrored
# statuses take new replica counts, succeeded/failed take late replica updates.
ALLOWED: dict[JobStatus, frozenset[JobStatus]] = {
    # (-> cancelling: a job re-queued after its pods were not ready keeps its suspended
    # PyTorchJob; cancelling it deletes that first, as for a dispatched job.)
    S.QUEUED: frozenset({S.DISPATCHING, S.CANCELLING, S.CANCELLED, S.FAILED, S.SUSPENDED}),
    # The watcher may see the PyTorchJob before the worker records `created`.
    S.DISPATCHING: frozenset({S.DISPATCHING, S.CANCELLING, S.CANCELLED} | FROM_PYTORCHJOB),
    S.CREATED: frozenset({S.CREATED, S.RUNNING, S.RESTARTING, S.SUCCEEDED, S.FAILED}),
    S.RUNNING: frozenset({S.RUNNING, S.RESTARTING, S.SUCCEEDED, S.FAILED}),
    S.RESTARTING: frozenset({S.RESTARTING, S.RUNNING, S.SUCCEEDED, S.FAILED}),
    S.CANCELLING: frozenset({S.CANCELLING, S.CANCELLED}),
    S.SUCCEEDED: frozenset({S.SUCCEEDED}),
    S.FAILED: frozenset({S.FAILED}),
    S.CANCELLED: frozenset(),
    # Suspended by its team (POST .../suspend): out of its queue, holding nothing, its
    # PyTorchJob (if any) suspended by the watcher; resumed: back to its place in the queue.
    S.SUSPENDED: frozenset({S.SUSPENDED, S.QUEUED, S.CANCELLING, S.CANCELLED}),
}
# Any dispatched, unfinished job can be cancelled, or lose its PyTorchJob (-> cancelled).
# A dispatched job whose replicas were not all running within the pods-ready timeout goes back
# to `queued` (its PyTorchJob suspended, its reservation given back in the same step), as
# Kueue's waitForPodsReady does: the scheduler placed it differently from admission's proof, and
# holding a half-placed gang would idle its gpus (wrapper.admission.readiness).
for _s in (S.CREATED, S.RUNNING, S.RESTARTING):
    ALLOWED[_s] = ALLOWED[_s] | {S.CANCELLING, S.CANCELLED, S.QUEUED, S.SUSPENDED}


def can_transition(current: JobStatus | str, target: JobStatus | str) -> bool:
    return JobStatus(target) in ALLOWED[JobStatus(current)]


def is_terminal(status: JobStatus | str) -> bool:
    return JobStatus(status) in TERMINAL
