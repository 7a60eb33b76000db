"""A preempted job's record: back to `queued` at its place in its team queue (same id, spec,
priority and submission time), its reservation given back in the same step, with a `Preempted`
condition, its preemption count and the run time it had accumulated. The watcher suspends its
PyTorchJob first (`queue_workers.watcher.preemption`); dispatch resumes it when admission picks
the job again. What to preempt is decided by `wrapper.admission.preemption`."""

import logging
import time

from wrapper.clock import epoch, utcnow
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore, empty_replicas
from wrapper.metrics import events

log = logging.getLogger(__name__)
PREEMPTED = "Preempted"
# Dispatched, with a PyTorchJob to suspend, not finished: what may be preempted.
PREEMPTIBLE = frozenset({JobStatus.CREATED, JobStatus.RUNNING, JobStatus.RESTARTING})


def run_seconds(record: dict, now: float | None = None) -> float:
    """Time it has run across its admissions: the runs that ended (preempted or suspended)
    plus the current one (admission to its end, or to now while dispatched)."""
    total = float(record.get("run_seconds") or 0.0)
    admitted = record.get("admitted_at")
    status = JobStatus(record["status"])
    if admitted and status not in (JobStatus.QUEUED, JobStatus.SUSPENDED):
        end = record.get("finished_at")
        end_at = epoch(end) if end else (time.time() if now is None else now)
        total += max(end_at - epoch(admitted), 0.0)
    return round(total, 1)


def condition(reason: str, message: str) -> dict:
    return {"type": PREEMPTED, "status": "True", "reason": reason, "message": message,
            "last_transition_time": utcnow()}  # fmt: skip


NODE_LOST = "NodeLost"


def _back_to_queue(store: JobStore, record: dict, reason: str, message: str,
                   fields: dict) -> str | None:  # fmt: skip
    """The shared step: from a dispatched status back to its place in its queue, its reservation
    given back by the same TRANSITION, with the run so far added to `run_seconds`. Returns the
    previous status, or None when its status changed meanwhile (nothing done)."""
    fields = {"reason": reason, "message": message, "ready_at": None,
              "replicas": empty_replicas(), "run_seconds": run_seconds(record),
              **fields}  # fmt: skip
    result = store.transition(record["id"], JobStatus.QUEUED, fields, expect=PREEMPTIBLE)
    if not result.applied:
        return None
    store.queues.requeue_in_place(record["team"], record["id"], record["spec"]["priority"])
    return result.previous


def requeue_node_lost(store: JobStore, record: dict, node: str, why: str) -> bool:
    """Send a job back to its place in its queue because a node its replicas were counted on
    is gone (`why`: deleted, or NotReady for how long): its pods there cannot come back (they
    are pinned to their counted nodes), so it is admitted again elsewhere and resumes from its
    checkpoint. False when its status changed meanwhile."""
    message = f"node {node} holding its replicas {why}; back in its queue at its place"
    losses = int(record.get("node_losses") or 0) + 1
    if _back_to_queue(store, record, NODE_LOST, message, {"node_losses": losses}) is None:
        return False
    log.warning("job %s (team %s): %s", record["id"], record["team"], message)
    return True


def preempt(store: JobStore, record: dict, reason: str, message: str, by: dict) -> bool:
    """Send a preempted job back to its place in its queue. `message` is what its team reads
    (no other team's names: docs/security.md); `by` ({job, team}) is kept for operators.
    False when its status changed meanwhile (nothing done)."""
    conditions = [*(record.get("trainq_conditions") or []), condition(reason, message)]
    fields = {"preempted_at": utcnow(), "preempted_by": by,
              "preemptions": int(record.get("preemptions") or 0) + 1,
              "trainq_conditions": conditions[-20:]}  # fmt: skip
    previous = _back_to_queue(store, record, PREEMPTED, message, fields)
    if previous is None:
        return False
    events.preempted(record["team"], str(by.get("team")), reason)
    log.info("job %s (team %s): %s -> queued (%s by job %s of team %s): %s", record["id"],
             record["team"], previous, reason, by.get("job"), by.get("team"), message)  # fmt: skip
    return True
