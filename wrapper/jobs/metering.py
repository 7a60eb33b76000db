"""What a job's status change counts in the metrics (`wrapper.metrics.events`): its end
(finished total, and how long it ran) and its eviction (a dispatched job sent back to its queue
or suspended). Called by `JobStore.transition` once its compare-and-set applied, so each change
is counted once, by the process that made it, whichever that is."""

import json
import logging
import time

import redis

from wrapper.clock import epoch
from wrapper.jobs.states import TERMINAL, JobStatus
from wrapper.metrics import events
from wrapper.redis import keys

log = logging.getLogger(__name__)
_SET_ASIDE = frozenset({JobStatus.QUEUED, JobStatus.SUSPENDED})
_MAY_HAVE_PODS = frozenset({JobStatus.CREATED, JobStatus.RUNNING, JobStatus.RESTARTING})


def ran_seconds(
    admitted_at: str | None, run_before: float, running: bool, now: float
) -> float | None:
    """Time a job ran over all its admissions: the earlier runs (`run_seconds`, kept when it
    was preempted or suspended) plus the current one when `running`; None if never admitted."""
    if not admitted_at:
        return None
    return run_before + (max(now - epoch(admitted_at), 0.0) if running else 0.0)


def count(client: redis.Redis, job_id: int, team: str, previous: JobStatus, target: JobStatus,
          fields: dict) -> None:  # fmt: skip
    if target in TERMINAL and previous not in TERMINAL:
        ran = None
        try:
            admitted_at, before = client.hmget(keys.job_key(job_id), "admitted_at", "run_seconds")
            admitted_at = json.loads(admitted_at) if admitted_at else None
            before = float(json.loads(before) or 0.0) if before else 0.0
            ran = ran_seconds(admitted_at, before, previous not in _SET_ASIDE, time.time())
        except redis.exceptions.RedisError as exc:  # the transition stands; only a sample is lost
            log.warning("metrics: job %s's run time not read: %s", job_id, exc)
        events.finished(team, target.value, ran)
    elif target in _SET_ASIDE and previous in _MAY_HAVE_PODS:
        events.evicted(team, fields.get("reason"))
