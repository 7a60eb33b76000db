"""`python -m queue_workers`: one trainq RQ worker serving every team's queue.
Run as many as you like; each dispatch is crash-safe (see queue_workers.worker.dispatch)."""

import argparse
import logging
import os
import socket

from queue_workers.kube.client import Kube, connect_or_exit
from queue_workers.worker import dispatch
from queue_workers.worker.rq_worker import TrainqWorker
from wrapper.config import load_or_exit
from wrapper.jobs.store import JobStore
from wrapper.redis import connect

log = logging.getLogger("queue_workers")


def ensure_namespaces(kube: Kube, namespaces: list[str]) -> None:
    for ns in namespaces:
        try:
            kube.ensure_namespace(ns)
        except Exception as exc:  # noqa: BLE001 - retried on first dispatch
            log.warning("could not ensure namespace %s yet: %s", ns, exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m queue_workers", description=__doc__)
    parser.add_argument("--name", default=socket.gethostname(), help="worker name prefix")
    parser.add_argument("--burst", action="store_true", help="exit when no job is queued")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings, config = load_or_exit()
    store = JobStore(connect(*settings.redis_target), [t.name for t in config.teams])
    kube = connect_or_exit(settings.kubeconfig)
    kube.root_namespaces = {t.namespace for t in config.teams if t.allow_root}
    ensure_namespaces(kube, [t.namespace for t in config.teams])
    dispatch.configure(dispatch.Context(config, store, kube))
    # The pid suffix keeps names unique: RQ refuses a name whose registration (from a killed
    # worker) has not expired yet.
    worker = TrainqWorker(store, config, kube, name=f"{args.name}.{os.getpid()}")
    log.info("worker %s serving teams %s", worker.name, ", ".join(t.name for t in config.teams))
    worker.work(burst=args.burst, logging_level=args.log_level, with_scheduler=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
