"""`python -m queue_workers`: one trainq RQ worker serving every team's queue.
Run as many as you like; each dispatch is crash-safe (see queue_workers.worker.dispatch)."""

import argparse
import logging
import os
import socket
import time

import redis.exceptions
from rq.exceptions import StopRequested

from queue_workers.kube.client import Kube, connect_or_exit
from queue_workers.worker import dispatch
from queue_workers.worker.rq_worker import TrainqWorker
from wrapper.config import load_or_exit
from wrapper.jobs.store import JobStore
from wrapper.metrics import serving
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
    store = JobStore(connect(*settings.redis_target), [t.name for t in config.teams],
                     max_events=config.events.max_per_team)  # fmt: skip
    kube = connect_or_exit(settings.kubeconfig)
    kube.root_namespaces = {t.namespace for t in config.teams if t.allow_root}
    ensure_namespaces(kube, [t.namespace for t in config.teams])
    dispatch.configure(dispatch.Context(config, store, kube, creates=dispatch.Creates()))
    serving.serve_from_env("worker")  # (its admissions and dispatches; no team gauges)
    return run(lambda name: TrainqWorker(store, config, kube, name=name), args)


def stop_requested(worker: TrainqWorker) -> bool:
    """SIGTERM/SIGINT reached RQ's handler (it notes the time, busy or idle)."""
    return worker._shutdown_requested_date is not None


def run(make_worker, args) -> int:
    """RQ's work loop, again after it quits on an error (RQ ends it on any exception outside a
    job, e.g. Redis gone mid-heartbeat during a failover): the process stays up and serves
    again once Redis answers, instead of leaving recovery to a supervisor."""
    backoff = 1.0
    for generation in range(1_000_000):
        # The pid (and generation) suffix keeps names unique: RQ refuses a name whose
        # registration (from a killed worker, or one whose teardown found Redis gone) lives on.
        name = f"{args.name}.{os.getpid()}" + (f".{generation}" if generation else "")
        worker, started = None, time.monotonic()
        try:
            worker = make_worker(name)  # (RQ names its Redis connection: a round trip)
            teams = ", ".join(q.name for q in worker.queues)
            log.info("worker %s serving teams %s", worker.name, teams)
            worker.work(burst=args.burst, logging_level=args.log_level, with_scheduler=False)
        except redis.exceptions.RedisError as exc:  # starting, registering or tearing down
            log.error("worker %s: Redis unavailable: %s", name, exc)
        finally:
            dispatch.settle()  # (its last create in flight ends before the process does)
        if worker is not None and (args.burst or stop_requested(worker)):
            return 0
        if time.monotonic() - started > 60:  # it had served well: a fresh fault
            backoff = 1.0
        log.error("worker %s stopped on an error; serving again in %.0f s", name, backoff)
        try:
            time.sleep(backoff)
        except StopRequested:  # SIGTERM while waiting (RQ's handler raises it when idle)
            return 0
        if worker is not None and stop_requested(worker):
            return 0
        backoff = min(backoff * 2, 30.0)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
