"""Retention of finished jobs, the Redis side (the watcher's `queue_workers.watcher.retention`
drives it and makes the Kubernetes calls): which finished jobs are due, noting that a finished
job's PyTorchJob was deleted (its final status stays in the record), and forgetting a record
with every key that names it. A job enters the finished sets when it ends (TRANSITION); jobs
that ended before those sets existed are indexed once by `index_records`."""

import json
import time

from rq.job import Job

from wrapper.clock import epoch, utcnow
from wrapper.jobs.states import TERMINAL, JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import keys, scripts

PYTORCHJOB_DELETED_AT = "pytorchjob_deleted_at"


def due(store: JobStore, which: str, older_than_seconds: float, limit: int) -> list[int]:
    """Ids in a finished set (`keys.FINISHED_JOBS` or `keys.FINISHED_PYTORCHJOBS`) that ended
    at least `older_than_seconds` ago, oldest first."""
    cutoff = time.time() - older_than_seconds
    return [int(x) for x in store.redis.zrangebyscore(which, "-inf", cutoff, 0, limit)]


def pytorchjob_deleted(store: JobStore, job_id: int, mark: bool = True) -> None:
    """The finished job's PyTorchJob is gone (retention deleted it, or found it gone): drop it
    from the sweep, and with `mark` note when on the record."""
    if not mark:
        store.redis.zrem(keys.FINISHED_PYTORCHJOBS, job_id)
        return
    scripts.PyTorchJobGone(store.redis)(job_id=job_id, field=PYTORCHJOB_DELETED_AT,
                                        value=json.dumps(utcnow()))  # fmt: skip


def forget(store: JobStore, job_id: int, record: dict | None) -> str:
    """Delete a finished record and its index entries: 'forgotten', 'missing' (only stale
    index entries were left), or 'held' (it still holds a reservation: its pods may run)."""
    return scripts.Forget(store.redis)(
        job_id=job_id, team=record["team"] if record else "", rq_job_key=Job.key_for(str(job_id)),
        idempotency_key=(record or {}).get("idempotency_key"),
        nonce=(record or {}).get("nonce"), terminal=sorted(TERMINAL),
        others=sorted({s.value for s in JobStatus} - TERMINAL),
    )  # fmt: skip


# Bumped when `index_records` learns a new index (the team status indexes: 2).
INDEX_VERSION = b"2"


def index_records(store: JobStore, teams: list[str], batch: int = 500) -> int:
    """Index records written before some indexes existed, in one pass over the teams' lists:
    finished jobs missing from the finished sets (by their finished_at), and every job missing
    from its team's status index. Returns how many finished jobs were added."""
    added = 0
    for team in teams:
        upper = "+inf"
        while True:
            ids = store.redis.zrevrangebyscore(keys.team_jobs(team), upper, "-inf", 0, batch)
            if not ids:
                break
            with store.redis.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.hmget(keys.job_key(int(job_id)), "status", "finished_at")
                rows = pipe.execute()
            ended, by_status = {}, {}
            for job_id, (status, finished_at) in zip(ids, rows, strict=True):
                if status is None:
                    continue
                by_status.setdefault(status.decode(), {})[job_id] = int(job_id)
                if status.decode() in TERMINAL:
                    when = json.loads(finished_at) if finished_at else None
                    ended[int(job_id)] = epoch(when) if when else time.time()
            with store.redis.pipeline(transaction=False) as pipe:
                if ended:
                    pipe.zadd(keys.FINISHED_JOBS, ended, nx=True)
                    pipe.zadd(keys.FINISHED_PYTORCHJOBS, ended, nx=True)
                for status, members in by_status.items():
                    # (NX: a status changed since the read keeps the script's entry)
                    pipe.zadd(keys.team_status(team, status), members, nx=True)
                replies = pipe.execute()
            added += replies[0] if ended else 0
            upper = f"({int(ids[-1])}"
            if len(ids) < batch:
                break
    return added
