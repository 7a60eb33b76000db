"""Retention of finished jobs: every SWEEP_SECONDS the watcher deletes the PyTorchJobs of jobs
that finished `retention.pytorchjob_seconds` ago (the record keeps the final status, replica
counts and conditions; `pytorchjob_deleted_at` says when it went), then forgets the records of
jobs that finished `retention.finished_seconds` ago with every index entry that names them
(`wrapper.jobs.retention`). Without it one team's history would fill Redis, and its
PyTorchJobs the apiserver."""

import logging
import threading
import time

from queue_workers.kube.client import Kube
from queue_workers.watcher.loops import keep_sweeping
from queue_workers.watcher.records import backend_of, location, team_namespaces
from wrapper.clock import epoch
from wrapper.config import TrainqConfig
from wrapper.jobs import retention
from wrapper.jobs.store import JobStore
from wrapper.redis import keys
from wrapper.runs.logs import LogArchive

log = logging.getLogger(__name__)
SWEEP_SECONDS = 10.0
BATCH = 200  # per set and pass; a full batch sweeps again at once
# How long a finished job's PyTorchJob waits for its logs to be kept, at most.
LOGS_GRACE_SECONDS = 60.0


class RetentionSweep:
    def __init__(self, config: TrainqConfig, store: JobStore, kube: Kube, stop: threading.Event):
        self.config, self.store, self.kube, self.stop = config, store, kube, stop
        self.namespaces = team_namespaces(config)
        self.logs = LogArchive(store.redis)
        self._indexed = False

    def _delete_pytorchjob(self, record: dict) -> bool:
        """Delete the finished job's PyTorchJob if it had one; True when it had."""
        if record.get(retention.PYTORCHJOB_DELETED_AT) or not record.get("pytorchjob"):
            return False  # already deleted, or never dispatched (ended in the queue)
        if record["team"] not in self.namespaces:
            return False  # a team no longer configured: its namespace is not ours to touch
        namespace, name = location(record, self.namespaces, self.config.instance)
        # Background: the record keeps the history; nothing waits on the pods' deletion.
        if self.kube.delete(namespace, name, "Background", backend_of(record, self.config)):
            log.info("job %s: deleted finished PyTorchJob %s/%s", record["id"], namespace, name)
        return True

    def remove_pytorchjobs(self) -> int:
        ids = retention.due(self.store, keys.FINISHED_PYTORCHJOBS,
                            self.config.retention.pytorchjob_seconds, BATCH)  # fmt: skip
        waiting = 0
        for job_id, record in zip(ids, self.store.get_many(ids), strict=True):
            if record is not None and self._logs_not_kept_yet(record):
                waiting += 1  # its pods (and logs) go with the PyTorchJob: a later sweep
                continue
            had = record is not None and self._delete_pytorchjob(record)
            retention.pytorchjob_deleted(self.store, job_id, mark=had)
        return len(ids) - waiting

    def _logs_not_kept_yet(self, record: dict) -> bool:
        """The log keeper (`queue_workers.watcher.runlogs`) has not kept this job's logs yet,
        and it ended recently enough that it still may (it looks every 2 s)."""
        if not record.get("pytorchjob") or self.logs.archived(record["id"]):
            return False
        ended = epoch(record["finished_at"]) if record.get("finished_at") else 0
        return time.time() - ended < LOGS_GRACE_SECONDS

    def forget_records(self) -> int:
        ids = retention.due(self.store, keys.FINISHED_JOBS,
                            self.config.retention.finished_seconds, BATCH)  # fmt: skip
        forgotten = 0
        for job_id, record in zip(ids, self.store.get_many(ids), strict=True):
            if record is not None:
                self._delete_pytorchjob(record)  # never leave one without its record
            if retention.forget(self.store, job_id, record) == "forgotten":
                forgotten += 1
        if forgotten:
            log.info("forgot %d finished job records (retention)", forgotten)
        return len(ids) if forgotten else 0  # only held ones left: wait for their release

    def sweep(self) -> None:
        if not self._indexed:
            if self.store.redis.get(keys.RECORDS_INDEXED) != retention.INDEX_VERSION:
                added = retention.index_records(self.store, list(self.namespaces))
                self.store.redis.set(keys.RECORDS_INDEXED, retention.INDEX_VERSION)
                log.info("indexed the job records (%d finished jobs added)", added)
            self._indexed = True
        # Records first: forgetting frees memory even when Redis is full (deletes are never
        # refused at maxmemory), and it deletes a due record's PyTorchJob itself.
        busy = self.forget_records() >= BATCH
        busy = self.remove_pytorchjobs() >= BATCH or busy
        if not busy:
            self.stop.wait(SWEEP_SECONDS)

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
