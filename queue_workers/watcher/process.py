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
- `queue_workers.watcher.releases`: gives back what finished jobs reserved once their pods are
  gone;
- `queue_workers.watcher.retention`: deletes finished jobs' PyTorchJobs, then their records,
  each after its configured time;
- `queue_workers.watcher.nodes`: list-watches the nodes and the bound pods and caches, for
  admission, each schedulable node's allocatable and what its pods request (threads of its own).
"""

import argparse
import logging
import threading

from queue_workers.kube.client import Kube, connect_or_exit
from queue_workers.watcher.cancellations import Cancellations
from queue_workers.watcher.leases import LeaseSweep
from queue_workers.watcher.mirror import Mirror
from queue_workers.watcher.nodes import NodeWatch
from queue_workers.watcher.preemption import PreemptionSweep
from queue_workers.watcher.readiness import ReadinessGuard
from queue_workers.watcher.releases import ReleaseSweep
from queue_workers.watcher.retention import RetentionSweep
from wrapper.admission.store import AdmissionStore
from wrapper.config import TrainqConfig, load_or_exit
from wrapper.jobs.store import JobStore
from wrapper.redis import connect


class Watcher:
    def __init__(self, config: TrainqConfig, store: JobStore, kubeconfig: str | None):
        self.stop = threading.Event()
        # A Kubernetes client per thread; the first one checks the credentials for all.
        self.mirror = Mirror(config, store, connect_or_exit(kubeconfig), self.stop)
        self.cancellations = Cancellations(config, store, Kube(kubeconfig), self.stop)
        self.leases = LeaseSweep(config, store, self.stop)
        self.readiness = ReadinessGuard(config, store, Kube(kubeconfig), self.stop)
        self.preemption = PreemptionSweep(config, store, AdmissionStore(store, config, True),
                                          Kube(kubeconfig), self.stop)  # fmt: skip
        self.releases = ReleaseSweep(store, AdmissionStore(store, config), self.stop)
        self.retention = RetentionSweep(config, store, Kube(kubeconfig), self.stop)
        self.nodes = NodeWatch(Kube(kubeconfig), AdmissionStore(store, config), self.stop,
                               pod_kube=Kube(kubeconfig))  # fmt: skip

    def run(self) -> None:
        for name, reconciler in (
            ("cancellations", self.cancellations),
            ("leases", self.leases),
            ("readiness", self.readiness),
            ("preemption", self.preemption),
            ("releases", self.releases),
            ("retention", self.retention),
            ("nodes", self.nodes),
        ):
            threading.Thread(target=reconciler.run, name=name, daemon=True).start()
        self.mirror.run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m queue_workers.watcher", description=__doc__)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings, config = load_or_exit()
    store = JobStore(connect(settings.redis_url), [t.name for t in config.teams])
    Watcher(config, store, settings.kubeconfig).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
