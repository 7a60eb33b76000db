"""`python -m queue_workers.watcher.process`: mirrors trainq's PyTorchJobs into the job records.

- List-watches PyTorchJobs labelled app.kubernetes.io/managed-by=trainq (and this instance)
  across all namespaces, resumes each watch from the last resourceVersion it saw, and relists
  on 410 Gone. The start-up list reconciles every non-terminal job, including jobs whose
  PyTorchJob disappeared while no watcher ran.
- A PyTorchJob deleted outside trainq marks its job `cancelled` (reason PyTorchJobDeleted).
- A housekeeping thread deletes the PyTorchJobs of `cancelling` jobs (they become
  `cancelled` once gone) and re-queues dispatches whose lease expired.
- A node thread list-watches the nodes and caches the cluster's schedulable capacity for
  admission (`queue_workers.watcher.nodes`). A job's end gives back its admission reservation and
  wakes a worker in the same Redis step as its status change (`JobStore.transition`).
"""

import argparse
import logging
import threading
import time

from kubernetes import watch
from kubernetes.client.rest import ApiException

from queue_workers.kube import pytorchjob
from queue_workers.kube.client import Kube, connect_or_exit, error_message
from queue_workers.kube.status import observe
from queue_workers.watcher import nodes as capacity
from wrapper.admission.store import AdmissionStore
from wrapper.clock import utcnow
from wrapper.config import TrainqConfig, load_or_exit
from wrapper.jobs.leases import requeue_expired
from wrapper.jobs.states import DISPATCHED, JobStatus
from wrapper.jobs.store import JobStore, connect
from wrapper.redis import keys

log = logging.getLogger("queue_workers.watcher.process")
WATCH_SECONDS = 60
REDELETE_SECONDS = 30.0


class Watcher:
    def __init__(self, config: TrainqConfig, store: JobStore, kubeconfig: str | None):
        self.config, self.store = config, store
        self.kube = connect_or_exit(kubeconfig)  # the watch thread's client
        self.housekeeping_kube = Kube(kubeconfig)
        self.kubeconfig = kubeconfig
        self.selector = pytorchjob.selector(config.instance)
        self.namespaces = {t.name: t.namespace for t in config.teams}
        self.stop = threading.Event()
        self._delete_requested: dict[int, float] = {}

    # --- mapping one PyTorchJob onto its record ----------------------------------------
    def _record_for(self, obj: dict) -> dict | None:
        job_id = pytorchjob.job_id_of(obj, self.config.instance)
        if job_id is None:
            return None
        record = self.store.get(job_id)
        meta = obj.get("metadata") or {}
        if record is None or self.namespaces.get(record["team"]) != meta.get("namespace"):
            return None  # not a job of this trainq's teams (or its record is gone)
        if not pytorchjob.is_ours(obj, self.config.instance, record):
            log.warning("ignoring %s/%s: labelled job %s but made for another job (uid)",
                        meta.get("namespace"), meta.get("name"), job_id)  # fmt: skip
            return None
        return record

    def apply(self, obj: dict) -> None:
        record = self._record_for(obj)
        if record is None:
            return
        job_id, status = record["id"], JobStatus(record["status"])
        observation = observe(obj)
        known = (status, record["team"])  # just read: the transition need not read them again
        if status == JobStatus.CANCELLING:
            # Keep mirroring replica counts until the PyTorchJob is gone.
            fields = {k: observation.fields[k] for k in ("pytorchjob", "replicas", "conditions")}
            if any(record.get(k) != v for k, v in fields.items()):
                self.store.transition(job_id, JobStatus.CANCELLING, fields, known=known)
        elif status == JobStatus.CANCELLED:
            # Cancelled while its PyTorchJob was being created: remove the leftover.
            if not (obj.get("metadata") or {}).get("deletionTimestamp"):
                meta = obj["metadata"]
                log.info("job %s is cancelled; deleting leftover %s", job_id, meta["name"])
                self.kube.delete(meta["namespace"], meta["name"], self._propagation)
        elif status != JobStatus.QUEUED:
            if observation.status == status and all(
                record.get(k) == v for k, v in observation.fields.items()
            ):
                return  # nothing trainq shows changed (the operator's own bookkeeping)
            result = self.store.transition(job_id, observation.status, observation.fields,
                                           known=known)  # fmt: skip
            if result.applied and result.previous != observation.status:
                log.info("job %s: %s -> %s", job_id, result.previous, observation.status.value)

    def gone(self, record: dict, namespace: str, name: str) -> None:
        """The job's PyTorchJob no longer exists."""
        job_id, status = record["id"], JobStatus(record["status"])
        if status == JobStatus.CANCELLING:
            fields = {"reason": "Cancelled", "message": record.get("message"),
                      "finished_at": utcnow()}  # fmt: skip
        elif status in DISPATCHED:
            fields = {
                "reason": "PyTorchJobDeleted",
                "message": f"PyTorchJob {namespace}/{name} was deleted outside trainq",
                "finished_at": utcnow(),
            }
        else:
            return  # finished jobs keep their history when their PyTorchJob is cleaned up
        if self.store.transition(job_id, JobStatus.CANCELLED, fields, expect={status}).applied:
            self._delete_requested.pop(job_id, None)
            log.info("job %s: %s -> cancelled (%s)", job_id, status.value, fields["reason"])

    def deleted(self, obj: dict) -> None:
        record = self._record_for(obj)
        if record is not None:
            self.gone(record, obj["metadata"]["namespace"], obj["metadata"]["name"])

    @property
    def _propagation(self) -> str:
        return self.config.dispatch.cancel_propagation

    def _location(self, record: dict) -> tuple[str, str]:
        ref = record.get("pytorchjob")
        if ref:
            return ref["namespace"], ref["name"]
        ns = self.namespaces[record["team"]]
        return ns, pytorchjob.pytorchjob_name(self.config.instance, record["id"])

    # --- list and watch ------------------------------------------------------------------
    def relist(self) -> str:
        """List everything, reconcile every non-terminal job, return the resourceVersion."""
        items, resource_version = self.kube.list_all(self.selector)
        seen = set()
        for obj in items:
            self.apply(obj)
            seen.add(pytorchjob.job_id_of(obj, self.config.instance))
        self.reconcile_unseen(seen)
        log.info("listed %d PyTorchJobs at resourceVersion %s", len(items), resource_version)
        return resource_version

    def reconcile_unseen(self, seen: set) -> None:
        suspects = self.store.ids_with_status(
            JobStatus.CREATED, JobStatus.RUNNING, JobStatus.RESTARTING, JobStatus.CANCELLING
        )
        for record in self.store.get_many([i for i in suspects if i not in seen]):
            if record is None:
                continue
            namespace, name = self._location(record)
            # Confirm: it may have been created after the list was taken.
            if self.kube.get(namespace, name) is None:
                self.gone(record, namespace, name)
        # Queued jobs must sit in their team queue (repairs a queue edited by hand).
        for record in self.store.get_many(self.store.ids_with_status(JobStatus.QUEUED)):
            if record and self.store.queues.position(record["team"], record["id"]) is None:
                log.warning("job %s was queued but missing from its queue; re-queued", record["id"])
                self.store.queues.requeue_front(record["team"], record["id"])

    def watch_from(self, resource_version: str) -> str | None:
        """Follow changes from resource_version; returns where to resume, or None if the
        resourceVersion is too old (410 Gone) and a relist is needed."""
        stream = watch.Watch()
        try:
            for event in stream.stream(
                self.kube.custom.list_cluster_custom_object,
                pytorchjob.GROUP, pytorchjob.VERSION, pytorchjob.PLURAL,
                label_selector=self.selector,
                resource_version=resource_version,
                allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS,
                _request_timeout=(5, WATCH_SECONDS + 15),
            ):  # fmt: skip
                if self.stop.is_set():
                    stream.stop()
                    break
                obj = event["raw_object"]
                resource_version = obj["metadata"]["resourceVersion"]
                if event["type"] in ("ADDED", "MODIFIED"):
                    self.apply(obj)
                elif event["type"] == "DELETED":
                    self.deleted(obj)
        except ApiException as exc:
            if exc.status == 410:
                log.info("resourceVersion %s expired (410 Gone); relisting", resource_version)
                return None
            raise
        return resource_version

    def run_watch(self) -> None:
        resource_version = None
        backoff = 1.0
        while not self.stop.is_set():
            try:
                if resource_version is None:
                    resource_version = self.relist()
                resource_version = self.watch_from(resource_version)
                backoff = 1.0
            except Exception as exc:  # noqa: BLE001 - apiserver/Redis outages: keep trying
                log.error("watch failed (%s); retrying in %.0fs", error_message(exc), backoff)
                self.stop.wait(backoff)
                backoff = min(backoff * 2, 30)
                resource_version = None  # a relist catches up on whatever was missed

    # --- housekeeping: cancellations and expired dispatch leases -----------------------
    def process_cancellations(self) -> None:
        now = time.monotonic()
        for record in self.store.get_many(self.store.ids_with_status(JobStatus.CANCELLING)):
            if record is None or record["status"] != JobStatus.CANCELLING:
                continue
            job_id = record["id"]
            if now - self._delete_requested.get(job_id, -REDELETE_SECONDS) < REDELETE_SECONDS:
                continue
            namespace, name = self._location(record)
            existed = self.housekeeping_kube.delete(namespace, name, self._propagation)
            self._delete_requested[job_id] = now
            if existed:
                log.info("job %s: deleting PyTorchJob %s/%s (%s)", job_id, namespace, name,
                         self._propagation)  # fmt: skip
            else:
                self.gone(record, namespace, name)

    def run_housekeeping(self) -> None:
        while not self.stop.is_set():
            try:
                # The request list only wakes us early; the `cancelling` index is the truth.
                if self.store.redis.blpop([keys.CANCEL_REQUESTS], timeout=1):
                    self.store.redis.delete(keys.CANCEL_REQUESTS)
                self.process_cancellations()
                requeue_expired(self.store, self.config)
            except Exception as exc:  # noqa: BLE001 - keep the loop alive through outages
                log.error("housekeeping failed: %s", error_message(exc))
                self.stop.wait(2)

    def run(self) -> None:
        thread = threading.Thread(target=self.run_housekeeping, name="housekeeping", daemon=True)
        thread.start()
        nodes = threading.Thread(
            target=capacity.watch_nodes,
            args=(Kube(self.kubeconfig), AdmissionStore(self.store, self.config), self.stop),
            name="nodes",
            daemon=True,
        )
        nodes.start()
        self.run_watch()


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
