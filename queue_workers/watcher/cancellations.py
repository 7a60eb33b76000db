"""Cancellations: deletes the PyTorchJobs of `cancelling` jobs; a job becomes `cancelled` once
its PyTorchJob is gone (`queue_workers.watcher.records.gone`, seen here or by the mirror).

A cancel request (`keys.CANCEL_REQUESTS`) wakes the loop at once; without one it looks again
every second. A delete that has not taken effect is repeated after REDELETE_SECONDS.
"""

import logging
import threading
import time

from queue_workers.kube.client import Kube
from queue_workers.watcher.loops import keep_sweeping
from queue_workers.watcher.records import backend_of, gone, location, team_namespaces
from wrapper.config import TrainqConfig
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import keys

log = logging.getLogger(__name__)
REDELETE_SECONDS = 30.0
WAKE_UP_SECONDS = 1


class Cancellations:
    def __init__(self, config: TrainqConfig, store: JobStore, kube: Kube, stop: threading.Event):
        self.config, self.store, self.kube, self.stop = config, store, kube, stop
        self.namespaces = team_namespaces(config)
        self._delete_requested: dict[int, float] = {}  # job id -> when we last asked

    def process(self) -> None:
        """Delete the PyTorchJob of every `cancelling` job not asked for lately."""
        now = time.monotonic()
        cancelling = self.store.ids_with_status(JobStatus.CANCELLING)
        # A job that left `cancelling` never returns to it: forget when we asked.
        still = set(cancelling)
        self._delete_requested = {i: t for i, t in self._delete_requested.items() if i in still}
        propagation = self.config.dispatch.cancel_propagation
        for record in self.store.get_many(cancelling):
            if record is None or record["status"] != JobStatus.CANCELLING:
                continue
            job_id = record["id"]
            if now - self._delete_requested.get(job_id, -REDELETE_SECONDS) < REDELETE_SECONDS:
                continue
            namespace, name = location(record, self.namespaces, self.config.instance)
            existed = self.kube.delete(namespace, name, propagation,
                                       backend_of(record, self.config))  # fmt: skip
            self._delete_requested[job_id] = now
            if existed:
                log.info("job %s: deleting PyTorchJob %s/%s (%s)", job_id, namespace, name,
                         propagation)  # fmt: skip
            else:
                gone(self.store, record, namespace, name)

    def sweep(self) -> None:
        # The request list only wakes us early; the `cancelling` index is the truth.
        if self.store.redis.blpop([keys.CANCEL_REQUESTS], timeout=WAKE_UP_SECONDS):
            self.store.redis.delete(keys.CANCEL_REQUESTS)
        self.process()

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
