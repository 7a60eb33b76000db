"""The pods-ready guard (Kueue's waitForPodsReady): every SWEEP_SECONDS the watcher looks at the
dispatched jobs whose replicas are not all running `admission.pods_ready_timeout_seconds` after
their admission (`wrapper.admission.readiness.overdue`). Such a job's PyTorchJob is suspended
(the operator deletes its pods) and the job goes back to the front of its queue, its
reservation given back, with a backoff; after `pods_ready_requeues` re-queues it fails and its
PyTorchJob is deleted. Dispatch resumes a suspended PyTorchJob when it adopts it again.
The same sweep suspends the PyTorchJobs of jobs their team suspended (`wrapper.jobs.suspension`)."""

import logging
import threading
import time

from queue_workers.kube.client import Kube
from queue_workers.watcher.loops import keep_sweeping
from queue_workers.watcher.records import backend_of, location, team_namespaces
from wrapper.admission import readiness
from wrapper.config import TrainqConfig
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0


class ReadinessGuard:
    def __init__(self, config: TrainqConfig, store: JobStore, kube: Kube, stop: threading.Event):
        self.config, self.store, self.kube, self.stop = config, store, kube, stop
        self.namespaces = team_namespaces(config)

    def sweep(self) -> None:
        settings = self.config.admission
        ids = self.store.ids_with_status(*readiness.GUARDED)
        now = time.time()
        for record in self.store.get_many(ids):
            if record is None or not readiness.overdue(
                record, now, settings.pods_ready_timeout_seconds
            ):
                continue
            namespace, name = location(record, self.namespaces, self.config.instance)
            if readiness.gives_up(record, settings):
                if readiness.fail(self.store, record, settings):
                    self.kube.delete(namespace, name, self.config.dispatch.cancel_propagation,
                                     backend_of(record, self.config))  # fmt: skip
            elif self.kube.set_suspended(namespace, name, True, None,
                                         backend_of(record, self.config)):  # fmt: skip
                # Suspended first: a job back in its queue never keeps pods that run.
                readiness.requeue(self.store, record, settings)
        self.suspend_pytorchjobs()
        self.stop.wait(SWEEP_SECONDS)

    def suspend_pytorchjobs(self) -> None:
        """Suspend the PyTorchJob of every job its team suspended, once (noted on the record)."""
        ids = self.store.ids_with_status(JobStatus.SUSPENDED)
        rows = self.store.fields_of(ids, "pytorchjob", "pytorchjob_suspended")
        due = [i for i, (made, done) in zip(ids, rows, strict=True) if made and not done]
        for record in self.store.get_many(due):
            if record is None:
                continue
            namespace, name = location(record, self.namespaces, self.config.instance)
            # (False: gone, nothing to suspend)
            self.kube.set_suspended(namespace, name, True, None, backend_of(record, self.config))
            self.store.transition(record["id"], JobStatus.SUSPENDED, {"pytorchjob_suspended": True},
                                  expect={JobStatus.SUSPENDED})  # fmt: skip
            log.info("job %s: suspended its PyTorchJob %s/%s", record["id"], namespace, name)

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
