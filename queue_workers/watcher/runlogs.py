"""Logs that outlive pods: when a job ends, keep the last 1 MiB of each replica's log in Redis
for the retention period (`wrapper.runs.logs`), read before retention (or anyone) deletes the
PyTorchJob and its pods. A `cancelling` job's logs are kept once as soon as it is seen (its pods
are going), then again when it is cancelled, for whatever is still there. Also starts the
retention clock of the run's reported metrics (`wrapper.runs.store`) at the job's end."""

import logging
import threading
import time

from queue_workers.kube.client import Kube
from queue_workers.kube.errors import error_message
from queue_workers.watcher.loops import keep_sweeping
from wrapper.config import TrainqConfig
from wrapper.jobs import retention
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import keys
from wrapper.runs import logs
from wrapper.runs.logs import LogArchive
from wrapper.runs.store import RunMetrics

log = logging.getLogger(__name__)
SWEEP_SECONDS = 2.0
# Finished jobs looked at: those that ended this recently (older ones were kept already, or
# ended while no watcher ran long enough ago that their pods are likely gone).
WINDOW_SECONDS = 6 * 3600
# A little over what is kept, so the kept copy can start at a line break.
READ_BYTES = logs.KEEP_BYTES + 4096


class LogKeeper:
    def __init__(self, config: TrainqConfig, store: JobStore, kube: Kube, stop: threading.Event):
        self.config, self.store, self.kube, self.stop = config, store, kube, stop
        self.archive = LogArchive(store.redis)
        self.metrics = RunMetrics(store.redis)
        self._kept: set[int] = set()  # this process: finished jobs done
        self._early: set[int] = set()  # cancelling jobs read once already

    def read(self, record: dict) -> dict[tuple[str, int], bytes]:
        ref = record["pytorchjob"]
        out = {}
        for replica, index in logs.replicas_of(record["spec"]):
            pod, selector, container = logs.pod_of(record, replica, index)
            try:
                if selector:  # a TrainJob's pod: found by its labels
                    pod = self.kube.find_pod(ref["namespace"], selector)
                    if pod is None:
                        continue
                data = self.kube.pod_log_tail(ref["namespace"], pod, container, READ_BYTES)
            except Exception as exc:  # noqa: BLE001 - one unreadable log must not stop the rest
                log.warning("job %s: could not read %s's log: %s", record["id"], pod,
                            error_message(exc))  # fmt: skip
                continue
            if data is not None:  # (a pod already gone keeps what an earlier read kept)
                out[replica, index] = data
        return out

    def keep(self, record: dict, final: bool) -> None:
        job_id, ttl = record["id"], self.config.retention.finished_seconds
        kept = self.read(record) if not record.get(retention.PYTORCHJOB_DELETED_AT) else {}
        self.archive.keep(job_id, kept, ttl, final=final)
        if final:
            self.metrics.expire_after_end(job_id, ttl)
            self._kept.add(job_id)
            log.info("job %s: kept the logs of %d replicas", job_id, len(kept))

    def sweep(self) -> None:
        now = time.time()
        recent = {int(x) for x in self.store.redis.zrangebyscore(
            keys.FINISHED_PYTORCHJOBS, now - WINDOW_SECONDS, "+inf")}  # fmt: skip
        self._kept &= recent  # (the memo stays as small as the window)
        ended = sorted(recent - self._kept)
        now_cancelling = set(self.store.ids_with_status(JobStatus.CANCELLING))
        self._early &= now_cancelling
        cancelling = sorted(now_cancelling - self._early)
        for job_id, record in zip(ended + cancelling, self.store.get_many(ended + cancelling),
                                  strict=True):  # fmt: skip
            if record is None or not record.get("pytorchjob"):
                self._kept.add(job_id)  # gone, or ended in its queue: no pods ever
                continue
            if record["status"] == JobStatus.CANCELLING:
                self.keep(record, final=False)
                self._early.add(record["id"])
            elif self.archive.archived(record["id"]):
                self._kept.add(record["id"])  # (by an earlier watcher)
            else:
                self.keep(record, final=True)
        self.stop.wait(SWEEP_SECONDS)

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
