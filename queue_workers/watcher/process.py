"""`python -m queue_workers.watcher`: the one watcher process, hosting a reconciler per concern,
each in its own thread (the mirror's watch in the main thread):

- `queue_workers.watcher.mirror`: PyTorchJob status -> job records (list-watch, relist on 410
  Gone, reconciling jobs whose PyTorchJob disappeared while no watcher ran);
- `queue_workers.watcher.cancellations`: deletes the PyTorchJobs of `cancelling` jobs (they
  become `cancelled` once gone);
- `queue_workers.watcher.leases`: re-queues dispatches whose lease expired;
- `queue_workers.watcher.readiness`: suspends and re-queues (or, after its re-queues, fails)
  a job whose replicas are not all running in time after admission;
- `queue_workers.watcher.preemption`: preempts running jobs for queued ones that may
  (reclaiming borrowed quota, or within a team by priority), suspending their PyTorchJobs;
- `queue_workers.watcher.nodeloss`: sends back to their queue the jobs counted on a node that
  was deleted or stayed NotReady (their pinned pods could never start again);
- `queue_workers.watcher.releases`: gives back what finished jobs reserved once their pods are
  gone;
- `queue_workers.watcher.retention`: deletes finished jobs' PyTorchJobs, then their records,
  each after its configured time;
- `queue_workers.watcher.webhooks`: delivers the teams' job events to their webhooks (signed,
  retried with backoff), noting each attempt on the job;
- `queue_workers.watcher.runlogs`: keeps the last 1 MiB of each replica's log when a job ends,
  so its logs outlive its pods;
- `queue_workers.watcher.stalls`: the stalled-run alert (no reported progress, a non-finite
  loss);
- `queue_workers.watcher.nodes`: list-watches the nodes and the bound pods and caches, for
  admission, each schedulable node's allocatable and what its pods request (threads of its own);
- `queue_workers.watcher.gates`: lets the pinned replicas' pods go, each to the node admission
  counted it on (their placement gate).

Several watchers may run (the chart runs two): only the one holding the Lease
(`queue_workers.watcher.leader`) runs the reconcilers, the others stand by. A leader that
loses the Lease exits at once with LOST_LEADERSHIP (its threads cannot all be stopped at
once otherwise; in a cluster the pod restarts as a candidate); on SIGTERM or SIGINT it hands
the Lease back before exiting, so a standby takes over within a poll.
"""

import argparse
import logging
import os
import signal
import threading

from queue_workers.kube import backends
from queue_workers.kube.client import Kube, connect_or_exit
from queue_workers.watcher.cancellations import Cancellations
from queue_workers.watcher.gates import PlacementGates
from queue_workers.watcher.leader import Elector, lease_name, lease_namespace
from queue_workers.watcher.leases import LeaseSweep
from queue_workers.watcher.mirror import Mirror
from queue_workers.watcher.nodeloss import NodeLossSweep
from queue_workers.watcher.nodes import NodeWatch
from queue_workers.watcher.preemption import PreemptionSweep
from queue_workers.watcher.readiness import ReadinessGuard
from queue_workers.watcher.releases import ReleaseSweep
from queue_workers.watcher.retention import RetentionSweep
from queue_workers.watcher.runlogs import LogKeeper
from queue_workers.watcher.stalls import StallSweep
from queue_workers.watcher.webhooks import WebhookDelivery
from wrapper.admission.store import AdmissionStore
from wrapper.config import TrainqConfig, load_or_exit
from wrapper.jobs.store import JobStore
from wrapper.metrics import serving, teams
from wrapper.redis import connect

log = logging.getLogger(__name__)
LOST_LEADERSHIP = 3  # exit status of a leader that lost its Lease
WATCHDOG_SECONDS = 0.2  # how often the main thread checks the leader renewed in time


class Watcher:
    def __init__(self, config: TrainqConfig, store: JobStore, kubeconfig: str | None):
        self.stop = threading.Event()
        # A Kubernetes client per thread; the first one checks the credentials for all.
        self.mirror = Mirror(config, store, connect_or_exit(kubeconfig), self.stop)
        # TrainJobs are listed only where a team runs on Trainer v2 (elsewhere its CRD may
        # well not be installed).
        self.trainjob_mirror = None
        if any(t.backend == backends.TRAINJOB_NAME for t in config.teams):
            self.trainjob_mirror = Mirror(config, store, Kube(kubeconfig), self.stop,
                                          backends.TRAINJOB)  # fmt: skip
        self.cancellations = Cancellations(config, store, Kube(kubeconfig), self.stop)
        self.leases = LeaseSweep(config, store, self.stop)
        self.readiness = ReadinessGuard(config, store, Kube(kubeconfig), self.stop)
        self.preemption = PreemptionSweep(config, store, AdmissionStore(store, config, True),
                                          Kube(kubeconfig), self.stop)  # fmt: skip
        self.node_loss = NodeLossSweep(config, store, Kube(kubeconfig), self.stop)
        self.releases = ReleaseSweep(store, AdmissionStore(store, config), self.stop)
        self.retention = RetentionSweep(config, store, Kube(kubeconfig), self.stop)
        self.run_logs = LogKeeper(config, store, Kube(kubeconfig), self.stop)
        self.stalls = StallSweep(config, store, self.stop)
        self.webhooks = WebhookDelivery(config, store, self.stop)
        self.nodes = NodeWatch(Kube(kubeconfig), AdmissionStore(store, config), self.stop,
                               pod_kube=Kube(kubeconfig))  # fmt: skip
        self.gates = PlacementGates(config, store, Kube(kubeconfig), self.stop)

    def run(self) -> None:
        for name, reconciler in (
            ("cancellations", self.cancellations),
            ("leases", self.leases),
            ("readiness", self.readiness),
            ("preemption", self.preemption),
            ("node-loss", self.node_loss),
            ("releases", self.releases),
            ("retention", self.retention),
            ("run-logs", self.run_logs),
            ("stalls", self.stalls),
            ("nodes", self.nodes),
            ("placement-gates", self.gates),
            *([("webhooks", self.webhooks)] if self.webhooks.wanted else []),
            *([("trainjob-mirror", self.trainjob_mirror)] if self.trainjob_mirror else []),
        ):
            threading.Thread(target=reconciler.run, name=name, daemon=True).start()
        self.mirror.run()


def exit_now(status: int) -> None:
    """Stop every thread at once (a watch blocked in a read would not notice a flag)."""
    logging.shutdown()  # flush the log first
    os._exit(status)


def lost(reason: str) -> None:
    log.critical("lost the watcher lease (%s): exiting so that no two watchers act", reason)
    exit_now(LOST_LEADERSHIP)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m queue_workers.watcher", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings, config = load_or_exit()
    store = JobStore(connect(*settings.redis_target), [t.name for t in config.teams],
                     max_events=config.events.max_per_team)  # fmt: skip
    watcher = Watcher(config, store, settings.kubeconfig)  # no I/O yet: ready to start at once
    elector = Elector(Kube(settings.kubeconfig), lease_namespace(),
                      lease_name(config.instance), config.watcher)  # fmt: skip
    # Served while standing by too (leader 0, no team gauges): the leader alone reads those.
    serving.serve_from_env(
        "watcher",
        serving.Flag("trainq_watcher_leader", "1: this watcher holds the Lease and acts",
                     lambda: elector.leading),
        teams.TeamCollector(AdmissionStore(store, config), active=lambda: elector.leading),
    )  # fmt: skip
    finish = threading.Event()  # a signal to stop, or the reconcilers ended
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signum, _frame: finish.set())
    if not elector.acquire(finish):
        return 0  # stopped while standing by
    elector.keep_leading(on_lost=lost)
    failed = threading.Event()

    def reconcile() -> None:
        try:
            watcher.run()  # returns only when it failed
        finally:
            failed.set()
            finish.set()

    threading.Thread(target=reconcile, name="mirror", daemon=True).start()
    while not finish.wait(WATCHDOG_SECONDS):
        if elector.overdue():  # the renewing thread is stuck past its deadline
            lost(f"not renewed for {config.watcher.renew_seconds:g} s")
    elector.release()
    exit_now(1 if failed.is_set() else 0)
    return 0  # (not reached)


if __name__ == "__main__":
    raise SystemExit(main())
