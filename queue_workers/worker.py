"""trainq's RQ worker: RQ's SimpleWorker (the dispatch runs in the worker process, which is
what a SIGKILL mid-dispatch hits), with its dequeue replaced so that

- the team to serve next comes from `queue_workers.selection.pick_next`, across all teams'
  queues (RQ itself only knows strict order or per-process round robin); and
- popping a job and marking it `dispatching` (with a lease) is one atomic Redis step. RQ's
  multi-queue BLPOP can lose a job if the worker dies right after the pop, and RQ's abandoned-
  job sweep only runs every 10 minutes; an expired lease instead sends the job back to the
  front of its queue within seconds (`requeue_expired`, run by every worker and the watcher).
"""

import logging
import time

import redis.exceptions
from rq.worker import SimpleWorker, WorkerStatus

from queue_workers.selection import Snapshot, TeamState, pick_next
from wrapper import keys
from wrapper.config import TrainqConfig
from wrapper.states import JobStatus
from wrapper.store import JobStore

log = logging.getLogger(__name__)
POLL_SECONDS = 0.25
SWEEP_SECONDS = 2.0


def snapshot(store: JobStore, config: TrainqConfig) -> Snapshot:
    with store.redis.pipeline(transaction=False) as pipe:
        for team in config.teams:
            pipe.llen(store.queues.queue(team.name).key)
            pipe.scard(keys.team_active(team.name))
        pipe.get(keys.LAST_SERVED_TEAM)
        values = pipe.execute()
    teams = tuple(
        TeamState(t.name, t.weight, queued=values[2 * i], running=values[2 * i + 1])
        for i, t in enumerate(config.teams)
    )
    last = values[-1]
    return Snapshot(teams=teams, last_served=last.decode() if last else None)


def requeue_expired(store: JobStore, config: TrainqConfig) -> list[int]:
    """Send jobs whose dispatch lease expired (worker died, or a retry's backoff is over) back
    to the front of their team queue."""
    requeued = []
    for job_id in store.queues.take_expired_leases(config.dispatch.lease_seconds):
        record = store.get(job_id)
        if record and record["status"] == JobStatus.DISPATCHING:
            store.queues.requeue_front(record["team"], job_id)
            requeued.append(job_id)
    if requeued:
        log.info("re-queued jobs with expired dispatch leases: %s", requeued)
    return requeued


class TrainqWorker(SimpleWorker):
    def __init__(self, store: JobStore, config: TrainqConfig, **kwargs):
        queues = [store.queues.queue(t.name) for t in config.teams]
        super().__init__(queues, connection=store.redis, **kwargs)
        self.store, self.config = store, config
        self._next_sweep = 0.0

    def register_birth(self):
        super().register_birth()
        # List every team queue for `rq info` from the start, not only after its first job.
        with self.connection.pipeline() as pipe:
            for queue in self.queues:
                pipe.sadd(queue.redis_queues_keys, queue.key)
            pipe.execute()

    def _sweep(self) -> None:
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_SECONDS
            requeue_expired(self.store, self.config)

    def claim(self) -> tuple[str, int] | None:
        order = pick_next(snapshot(self.store, self.config))
        return self.store.queues.claim(order, self.config.dispatch.lease_seconds)

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Returns (job, queue), or None when in burst mode (timeout None) nothing is queued
        or max_idle_time passed; otherwise polls until a job is claimed."""
        self.set_state(WorkerStatus.IDLE)
        self.procline("Listening on " + ",".join(self.queue_names()))
        idle_since = time.monotonic()
        backoff = 1.0
        while True:
            try:
                self.heartbeat()
                if self.should_run_maintenance_tasks:
                    self.run_maintenance_tasks()
                self._sweep()
                claimed = self.claim()
                backoff = 1.0
            except redis.exceptions.ConnectionError as exc:
                self.log.error("Redis unavailable (%s); retrying in %.0fs", exc, backoff)
                time.sleep(backoff)
                backoff = min(backoff * 2, 30)
                continue
            if claimed:
                team, job_id = claimed
                job = self.store.queues.fetch_rq_job(team, job_id)
                job.redis_server_version = self.get_redis_server_version()
                self.log.info("Worker %s: claimed job %s from team %s", self.name, job_id, team)
                self.heartbeat()
                return job, self.store.queues.queue(team)
            if timeout is None:
                return None
            if max_idle_time is not None and time.monotonic() - idle_since > max_idle_time:
                return None
            time.sleep(POLL_SECONDS)
