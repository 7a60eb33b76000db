"""trainq's RQ worker: RQ's SimpleWorker (the dispatch runs in the worker process, which is
what a SIGKILL mid-dispatch hits), with its dequeue replaced so that

- the job to dispatch next comes from the admission policy
  (`queue_workers.worker.selection.pick_next`) over all teams' queues (RQ itself only knows
  strict order or per-process round robin);
- reserving its resources, taking it off its queue and marking it `dispatching` (with a lease)
  is one atomic Redis step that re-checks quota and capacity (`AdmissionStore.admit`). RQ's
  multi-queue BLPOP can lose a job if the worker dies right after the pop, and RQ's abandoned-
  job sweep only runs every 10 minutes; an expired lease instead sends the job back to the
  front of its queue within seconds (`wrapper.jobs.leases.requeue_expired`, swept by every
  worker and by `queue_workers.watcher.leases`), still holding its reservation, for another
  worker to create or adopt its PyTorchJob;
- with nothing admissible, a worker blocks on the admission wake-up list (BLPOP), which a
  submission, a job's end, a re-queue or a capacity change pushes to: no polling.
"""

import logging
import time

import redis.exceptions
from rq.worker import SimpleWorker, WorkerStatus

from queue_workers.kube.client import Kube
from queue_workers.kube.errors import error_message
from queue_workers.kube.nodes import refresh
from queue_workers.worker.selection import pick_next
from wrapper.admission.store import AdmissionStore
from wrapper.config import TrainqConfig
from wrapper.jobs.leases import requeue_expired
from wrapper.jobs.store import JobStore
from wrapper.metrics import events

log = logging.getLogger(__name__)
# An idle worker re-evaluates this often even without a wake-up (head-of-line bounds passing,
# expired leases); well under the Redis client's socket timeout.
IDLE_WAIT_SECONDS = 2.0
# After losing every try to other workers' admissions (they changed the picture each time),
# look again almost at once: something may well be admissible still, and nobody wakes us.
RACED_WAIT_SECONDS = 0.05
SWEEP_SECONDS = 2.0
REFRESH_RETRY_SECONDS = 10.0  # after a failed node list
CAPACITY_CHECK_SECONDS = 2.0  # how often a worker looks at the cached capacity's age
HEARTBEAT_SECONDS = 10.0  # RQ's worker key lives worker_ttl (420 s) past a heartbeat


def submitted_at(state, team: str, job_id: int) -> float | None:
    """When an admitted job was submitted (epoch), from the snapshot its admission used."""
    for t in state.teams:
        if t.name == team:
            return next((j.submitted for j in t.queue if j.id == job_id), None)
    return None


class TrainqWorker(SimpleWorker):
    def __init__(self, store: JobStore, config: TrainqConfig, kube: Kube | None = None, **kwargs):
        queues = [store.queues.queue(t.name) for t in config.teams]
        super().__init__(queues, connection=store.redis, **kwargs)
        self.store, self.config, self.kube = store, config, kube
        self.admissions = AdmissionStore(store, config, exclusive=True)  # (one thread)
        self._next_sweep = 0.0
        self._next_refresh = 0.0
        self._next_heartbeat = 0.0
        self.raced_out = False  # the last claim lost every try to other workers

    def register_birth(self):
        super().register_birth()
        # List every team queue for `rq info` from the start, not only after its first job.
        with self.connection.pipeline() as pipe:
            for queue in self.queues:
                pipe.sadd(queue.redis_queues_keys, queue.key)
            pipe.execute()

    def _heartbeat_if_due(self) -> None:
        # RQ's heartbeat is two round trips; once per job would be most of a claim's cost.
        if time.monotonic() >= self._next_heartbeat:
            self._next_heartbeat = time.monotonic() + HEARTBEAT_SECONDS
            self.heartbeat()

    def _sweep(self) -> None:
        if time.monotonic() >= self._next_sweep:
            self._next_sweep = time.monotonic() + SWEEP_SECONDS
            requeue_expired(self.store, self.config)

    def _refresh_capacity(self) -> None:
        if self.kube is None or time.monotonic() < self._next_refresh:
            return
        self._next_refresh = time.monotonic() + CAPACITY_CHECK_SECONDS
        if self.admissions.capacity_is_stale():
            try:
                refresh(self.kube, self.admissions)
            except Exception as exc:  # noqa: BLE001 - admission waits on the cached figure
                log.warning("could not list nodes and pods for capacity: %s", error_message(exc))
                self._next_refresh = time.monotonic() + REFRESH_RETRY_SECONDS

    def claim(self) -> tuple[str, int] | None:
        """Admit the best admissible job (or hand out an expired re-dispatch), or None."""
        self._refresh_capacity()
        lease = self.config.dispatch.lease_seconds
        self.raced_out = False
        started, queued = time.monotonic(), False
        for _ in range(3):
            state, redispatches = self.admissions.load(self.config.admission.lookahead)
            for team, job_id in redispatches:
                if self.admissions.redispatch(team, job_id, lease):
                    return team, job_id
            queued = queued or any(t.queue for t in state.teams)
            candidates = pick_next(state)
            raced = False
            for adm in candidates:
                # With a second candidate, another idle worker is woken to take the next one.
                outcome, _ = self.admissions.admit(adm, lease, wake_another=len(candidates) > 1)
                if outcome == "admitted":
                    events.admission_attempt(True, time.monotonic() - started)
                    events.admitted(adm.team, submitted_at(state, adm.team, adm.job_id))
                if outcome in ("admitted", "redispatch"):
                    return adm.team, adm.job_id
                if outcome != "stale":
                    raced = True  # another worker's admission changed the picture
                    break
            if not raced:
                break
        else:
            self.raced_out = True
        if queued:  # (an idle round over empty queues is no attempt, as in Kueue)
            events.admission_attempt(False, time.monotonic() - started)
        return None

    def dequeue_job_and_maintain_ttl(self, timeout, max_idle_time=None):
        """Returns (job, queue), or None when in burst mode (timeout None) nothing is
        admissible or max_idle_time passed; otherwise blocks until a job is admitted."""
        self.set_state(WorkerStatus.IDLE)
        self.procline("Listening on " + ",".join(self.queue_names()))
        idle_since = time.monotonic()
        backoff = 1.0
        while True:
            try:
                self._heartbeat_if_due()
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
                return job, self.store.queues.queue(team)  # (RQ heartbeats as it starts it)
            if timeout is None:
                return None
            if max_idle_time is not None and time.monotonic() - idle_since > max_idle_time:
                return None
            try:
                self.admissions.wait(RACED_WAIT_SECONDS if self.raced_out else IDLE_WAIT_SECONDS)
            except redis.exceptions.ConnectionError:
                continue  # reported by the next round
