"""The mirror: trainq's PyTorchJobs (or TrainJobs: one mirror per backend in use,
`queue_workers.kube.backends`) -> their job records.

List-watches the PyTorchJobs labelled app.kubernetes.io/managed-by=trainq (and this instance)
across all namespaces, resumes each watch from the last resourceVersion it saw, and relists
when that is too old (410 Gone, `ResourceExpired`). Each list reconciles every non-terminal
job, including jobs whose PyTorchJob disappeared while no watcher ran, and puts back a queued
job missing from its team queue. A PyTorchJob deleted outside trainq marks its job
`cancelled` (reason PyTorchJobDeleted); the leftover PyTorchJob of a job cancelled while it
was being created is deleted. A job's end gives back its admission reservation and wakes a
worker in the same Redis step as its status change (`JobStore.transition`).

Each list also seeds the job id counter above every id the cluster still carries (after Redis
lost its data the counter restarts, and a new job would collide with an old PyTorchJob's name),
and reports the PyTorchJobs no record owns (leftovers: logged, kept for /metrics).
"""

import json
import logging
import threading

from queue_workers.kube import peers, pytorchjob
from queue_workers.kube.backends import PYTORCHJOB, Backend
from queue_workers.kube.client import Kube
from queue_workers.kube.errors import ResourceExpired, error_message
from queue_workers.watcher.loops import keep_following
from queue_workers.watcher.records import backend_of, gone, location, team_namespaces
from wrapper.admission import readiness
from wrapper.clock import epoch, utcnow
from wrapper.config import TrainqConfig
from wrapper.jobs import storage
from wrapper.jobs.states import TERMINAL, JobStatus
from wrapper.jobs.store import JobStore
from wrapper.metrics import events
from wrapper.redis import keys

log = logging.getLogger(__name__)


def condition_changed_at(new: list[dict], old: list[dict] | None) -> float | None:
    """When the newest condition in `new` changed (epoch), if it changed after every one in
    `old` (the record's): the change this mirror carries; None when no condition changed."""

    def newest(conditions) -> float | None:
        times = [epoch(c["last_transition_time"]) for c in conditions or ()
                 if c.get("last_transition_time")]  # fmt: skip
        return max(times, default=None)

    changed, before = newest(new), newest(old)
    return changed if changed is not None and (before is None or changed > before) else None


class Mirror:
    def __init__(self, config: TrainqConfig, store: JobStore, kube: Kube, stop: threading.Event,
                 backend: Backend = PYTORCHJOB):  # fmt: skip
        self.config, self.store, self.kube, self.stop = config, store, kube, stop
        self.backend = backend
        # The PyTorchJob mirror also repairs the team queues (one of them is enough).
        self.primary = backend is PYTORCHJOB
        self.selector = pytorchjob.selector(config.instance)
        self.namespaces = team_namespaces(config)
        self._resume_from: str | None = None  # None: list first
        self._peered: set[str] = set()  # PyTorchJob uids given their peers' NetworkPolicy

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

    def apply(self, obj: dict) -> bool:
        """Mirror one PyTorchJob onto its record; False when no record owns it."""
        record = self._record_for(obj)
        if record is None:
            return False
        job_id, status = record["id"], JobStatus(record["status"])
        self._ensure_peers(obj, job_id, status)
        observation = self.backend.observe(obj)
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
                self.kube.delete(meta["namespace"], meta["name"],
                                 self.config.dispatch.cancel_propagation, self.backend)  # fmt: skip
        elif status == JobStatus.DISPATCHING and self.backend.suspended(obj):
            # A re-admitted job's PyTorchJob, still suspended from its preemption or node loss:
            # its dispatch adopts and resumes it. Taken as `created` here, the dispatch would
            # find nothing to do and the job would wait on a suspended PyTorchJob for ever.
            return True
        elif status not in (JobStatus.QUEUED, JobStatus.SUSPENDED):  # (set aside: not mirrored)
            fields = observation.fields
            if not record.get("ready_at") and readiness.all_running({**record, **fields}):
                # Every replica running once: past the pods-ready guard for good.
                fields = {**fields, "ready_at": utcnow()}
            if observation.status == status and all(record.get(k) == v for k, v in fields.items()):
                return True  # nothing trainq shows changed (the operator's own bookkeeping)
            result = self.store.transition(job_id, observation.status, fields,
                                           known=known)  # fmt: skip
            changed_at = condition_changed_at(fields["conditions"], record.get("conditions"))
            if result.applied and changed_at is not None:
                events.mirrored(changed_at)
            if result.applied and result.previous != observation.status:
                log.info("job %s: %s -> %s", job_id, result.previous, observation.status.value)
        return True

    def _ensure_peers(self, obj: dict, job_id: int, status: JobStatus) -> None:
        """Give a live PyTorchJob its peers' NetworkPolicy, once per PyTorchJob (uid) in this
        process: a new one on its first event, every listed one after a restart (409s). A
        finished or deleted one leaves the memo (the policy goes with it)."""
        meta = obj.get("metadata") or {}
        uid = meta.get("uid")
        if status in TERMINAL or meta.get("deletionTimestamp"):
            self._peered.discard(uid)
            return
        if uid in self._peered:
            return
        try:
            self.kube.create_network_policy(peers.peer_policy(obj, self.config.instance, job_id))
            self._peered.add(uid)
        except Exception as exc:  # noqa: BLE001 - the job runs on; its replicas stay apart
            log.warning("job %s: could not create its peers' NetworkPolicy (%s); its replicas "
                        "cannot reach each other until it exists", job_id,
                        error_message(exc))  # fmt: skip

    def deleted(self, obj: dict) -> None:
        self._peered.discard((obj.get("metadata") or {}).get("uid"))
        record = self._record_for(obj)
        if record is not None:
            gone(self.store, record, obj["metadata"]["namespace"], obj["metadata"]["name"])

    # --- list and watch ------------------------------------------------------------------
    def relist(self) -> str:
        """List everything, reconcile every non-terminal job, return the resourceVersion."""
        items, resource_version = self.kube.list_all(self.selector, self.backend)
        ids = [pytorchjob.job_id_of(obj, self.config.instance) for obj in items]
        highest = max((i for i in ids if i is not None), default=0)
        if highest:
            self.store.seed_ids(highest)  # before any record is read: no new id collides
        seen, leftovers = set(), {}
        for obj, job_id in zip(items, ids, strict=True):
            if not self.apply(obj) and job_id is not None:
                meta = obj.get("metadata") or {}
                leftovers[f"{meta.get('namespace')}/{meta.get('name')}"] = {
                    "job_id": job_id, "created": meta.get("creationTimestamp")}  # fmt: skip
            seen.add(job_id)
        self.report_leftovers(leftovers)
        self.reconcile_unseen(seen)
        log.info("listed %d %ss at resourceVersion %s", len(items), self.backend.kind,
                 resource_version)  # fmt: skip
        return resource_version

    def report_leftovers(self, leftovers: dict[str, dict]) -> None:
        storage.record_leftovers(self.store.redis, leftovers, self.backend.plural)
        if leftovers:
            names = sorted(leftovers)
            log.warning("%d %ss of instance %s have no job record (left from before "
                        "Redis lost its data?); delete them when no longer needed: %s%s",
                        len(names), self.backend.kind, self.config.instance,
                        ", ".join(names[:20]),
                        " ..." if len(names) > 20 else "")  # fmt: skip

    def reconcile_unseen(self, seen: set) -> None:
        suspects = self.store.ids_with_status(
            JobStatus.CREATED, JobStatus.RUNNING, JobStatus.RESTARTING, JobStatus.CANCELLING
        )
        for record in self.store.get_many([i for i in suspects if i not in seen]):
            if record is None or backend_of(record, self.config) is not self.backend:
                continue  # (the other backend's mirror looks after it)
            namespace, name = location(record, self.namespaces, self.config.instance)
            # Confirm: it may have been created after the list was taken.
            if self.kube.get(namespace, name, self.backend) is None:
                gone(self.store, record, namespace, name)
        if self.primary:
            self.repair_queues()

    def repair_queues(self) -> None:
        """Queued jobs must sit in their team queue (repairs a queue edited by hand, and moves
        what an older trainq left in RQ's lists): one round trip per 500 queued jobs to find
        the missing ones, which go back where their priority and id place them."""
        queues = self.store.queues
        if queues.drop_rq_lists():
            log.info("moved the team queues out of RQ's lists into sorted sets")
        queued = self.store.ids_with_status(JobStatus.QUEUED)
        for start in range(0, len(queued), 500):
            chunk = queued[start : start + 500]
            with self.store.redis.pipeline(transaction=False) as pipe:
                for job_id in chunk:
                    pipe.hmget(keys.job_key(job_id), "team", "priority")
                rows = pipe.execute()
            entries = {(json.loads(t), job_id): int(p)
                       for job_id, (t, p) in zip(chunk, rows, strict=True) if t and p}  # fmt: skip
            for team, job_id in queues.missing(list(entries)):
                if team in queues.queues:
                    log.warning("job %s was queued but missing from its queue; re-queued", job_id)
                    queues.requeue_in_place(team, job_id, entries[team, job_id])

    def watch_from(self, resource_version: str) -> str | None:
        """Follow changes from resource_version; returns where to resume, or None if the
        resourceVersion is too old (410 Gone) and a relist is needed."""
        events = self.kube.workload_events(self.selector, resource_version, self.stop,
                                           self.backend)  # fmt: skip
        try:
            for kind, obj in events:
                resource_version = obj["metadata"]["resourceVersion"]
                if kind in ("ADDED", "MODIFIED"):
                    self.apply(obj)
                elif kind == "DELETED":
                    self.deleted(obj)
        except ResourceExpired:
            log.info("resourceVersion %s expired (410 Gone); relisting", resource_version)
            return None
        return resource_version

    def follow(self) -> None:
        """One round: list when there is nowhere to resume from, then watch."""
        # Cleared first: after a failure a relist catches up on whatever was missed.
        resume_from, self._resume_from = self._resume_from, None
        if resume_from is None:
            resume_from = self.relist()
        self._resume_from = self.watch_from(resume_from)

    def run(self) -> None:
        keep_following(self.stop, self.follow, "watch", log)
