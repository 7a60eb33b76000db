"""Reservations of finished jobs: every SWEEP_SECONDS the watcher gives back what a finished
job reserved once its pods are gone (`wrapper.admission.releases`), so the gpus of a Worker that
still runs after its Master finished stay counted until it ends."""

import logging
import threading

from queue_workers.watcher.loops import keep_sweeping
from wrapper.admission.releases import release_finished
from wrapper.admission.store import AdmissionStore
from wrapper.jobs.store import JobStore

log = logging.getLogger(__name__)
# Capacity turns over this much later at most (one script call finds the reserved jobs that
# ended: FINISHED_RESERVED).
SWEEP_SECONDS = 0.25


class ReleaseSweep:
    def __init__(self, store: JobStore, admissions: AdmissionStore, stop: threading.Event):
        self.store, self.admissions, self.stop = store, admissions, stop

    def sweep(self) -> None:
        release_finished(self.store, self.admissions)
        self.stop.wait(SWEEP_SECONDS)

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
