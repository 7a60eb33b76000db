"""When the scheduler disagrees with admission's placement: a dispatched job whose replicas are
not all running within `admission.pods_ready_timeout_seconds` of its admission goes back to the
front of its team queue, gives back its reservation, and may not be admitted again for a
backoff (doubling per re-queue, capped); after `pods_ready_requeues` re-queues the next timeout
fails it (Kueue's waitForPodsReady). A job whose replicas were all running once (`ready_at`),
or which has a finished replica, is past this guard.

This module owns the decision over a record and the Redis side (the status change, the queue
entry, the backoff entry in `keys.ADMISSION_BACKOFF`); the watcher's reconciler
(`queue_workers.watcher.readiness`) suspends or deletes the PyTorchJob."""

import logging
import time
from datetime import UTC, datetime

from wrapper.clock import epoch, utcnow
from wrapper.config import AdmissionSettings
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore, empty_replicas
from wrapper.redis import keys

log = logging.getLogger(__name__)
PODS_NOT_READY = "PodsNotReady"
# The statuses the guard watches: dispatched, with a PyTorchJob, not finished.
GUARDED = frozenset({JobStatus.CREATED, JobStatus.RUNNING, JobStatus.RESTARTING})


def expected_replicas(record: dict) -> int:
    return 1 + int(record["spec"].get("workers") or 0)


def running_replicas(record: dict) -> int:
    replicas = record.get("replicas") or {}
    return sum(int((replicas.get(r) or {}).get("active") or 0) for r in ("Master", "Worker"))


def all_running(record: dict) -> bool:
    return running_replicas(record) >= expected_replicas(record)


def past_guard(record: dict) -> bool:
    """All its replicas were running once, or one of them finished: no longer guarded."""
    if record.get("ready_at"):
        return True
    replicas = record.get("replicas") or {}
    return any(int((replicas.get(r) or {}).get(k) or 0) > 0
               for r in ("Master", "Worker") for k in ("succeeded", "failed"))  # fmt: skip


def overdue(record: dict, now: float, timeout: float) -> bool:
    """Guarded, not all running, and admitted more than `timeout` seconds ago."""
    if JobStatus(record["status"]) not in GUARDED or past_guard(record) or all_running(record):
        return False
    admitted = record.get("admitted_at")
    return admitted is not None and now - epoch(admitted) > timeout


def backoff_seconds(requeues: int, settings: AdmissionSettings) -> float:
    """The wait before re-admission after the `requeues`-th re-queue (1 for the first)."""
    base = settings.pods_ready_backoff_seconds
    return min(base * 2 ** max(requeues - 1, 0), settings.pods_ready_backoff_max_seconds)


def gives_up(record: dict, settings: AdmissionSettings) -> bool:
    """The next timeout fails the job: it was re-queued `pods_ready_requeues` times already."""
    return int(record.get("requeues") or 0) >= settings.pods_ready_requeues


def _counted(record: dict) -> str:
    return f"{running_replicas(record)} of {expected_replicas(record)} replicas"


def requeue(store: JobStore, record: dict, settings: AdmissionSettings,
            now: float | None = None) -> bool:  # fmt: skip
    """Send a job whose pods were not ready back to the front of its team queue, its
    reservation given back in the same step as its status, with a backoff before it may be
    admitted again. False when its status changed meanwhile (nothing done)."""
    now = time.time() if now is None else now
    job_id, team = record["id"], record["team"]
    requeues = int(record.get("requeues") or 0) + 1
    wait = backoff_seconds(requeues, settings)
    until = now + wait
    at = datetime.fromtimestamp(until, UTC).strftime("%H:%M:%SZ")
    message = (f"{_counted(record)} were running {settings.pods_ready_timeout_seconds:g}s after "
               f"admission; re-queued ({requeues} of {settings.pods_ready_requeues}), tries "
               f"again in {wait:g}s (at {at})")  # fmt: skip
    # The backoff is in place before the job is queued: no worker may admit it in between.
    with store.redis.pipeline() as pipe:
        pipe.zremrangebyscore(keys.ADMISSION_BACKOFF, "-inf", now)  # (due entries: prune)
        pipe.zadd(keys.ADMISSION_BACKOFF, {str(job_id): until})
        pipe.execute()
    # (its pods are being deleted; the mirror shows the resumed PyTorchJob's once re-admitted)
    fields = {"reason": PODS_NOT_READY, "message": message, "requeues": requeues,
              "ready_at": None, "replicas": empty_replicas()}  # fmt: skip
    result = store.transition(job_id, JobStatus.QUEUED, fields, expect=GUARDED)
    if not result.applied:
        store.redis.zrem(keys.ADMISSION_BACKOFF, str(job_id))
        return False
    store.queues.requeue_front(team, job_id)
    log.info("job %s: %s -> queued (%s): %s", job_id, result.previous, PODS_NOT_READY, message)
    return True


def fail(store: JobStore, record: dict, settings: AdmissionSettings) -> bool:
    """Fail a job that never had all its replicas running after its re-queues. Its reservation
    is given back once its pods are gone (wrapper.admission.releases). False when its status
    changed meanwhile."""
    requeues = int(record.get("requeues") or 0)
    message = (f"never had all its replicas running within "
               f"{settings.pods_ready_timeout_seconds:g}s of admission after {requeues} "
               f"re-queue{'s' if requeues != 1 else ''} ({_counted(record)} running)")  # fmt: skip
    fields = {"reason": PODS_NOT_READY, "message": message, "finished_at": utcnow()}
    result = store.transition(record["id"], JobStatus.FAILED, fields, expect=GUARDED)
    if result.applied:
        log.info("job %s: %s -> failed (%s): %s", record["id"], result.previous,
                 PODS_NOT_READY, message)  # fmt: skip
    return result.applied
