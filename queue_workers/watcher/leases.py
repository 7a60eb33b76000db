"""Expired dispatch leases: every SWEEP_SECONDS the watcher sends `dispatching` jobs whose
lease ran out back to the front of their team queue (`wrapper.jobs.leases.requeue_expired`).
Every worker sweeps too, but only between claims: with all workers busy or gone, this sweep is
what still re-queues a dispatch that a killed worker left behind."""

import logging
import threading

from queue_workers.watcher.loops import keep_sweeping
from wrapper.config import TrainqConfig
from wrapper.jobs.leases import requeue_expired
from wrapper.jobs.store import JobStore

log = logging.getLogger(__name__)
SWEEP_SECONDS = 1.0


class LeaseSweep:
    def __init__(self, config: TrainqConfig, store: JobStore, stop: threading.Event):
        self.config, self.store, self.stop = config, store, stop

    def sweep(self) -> None:
        requeue_expired(self.store, self.config)
        self.stop.wait(SWEEP_SECONDS)

    def run(self) -> None:
        keep_sweeping(self.stop, self.sweep, log)
