"""What the mirror (`queue_workers.watcher.mirror`), the cancellations and the other sweeps
need of a job record: where its workload is (`location`), of which kind (`backend_of`: a
PyTorchJob or a TrainJob), and what the record becomes once it no longer exists (`gone`)."""

import logging

from queue_workers.kube import backends, pytorchjob
from wrapper.clock import utcnow
from wrapper.config import TrainqConfig
from wrapper.jobs.states import DISPATCHED, JobStatus
from wrapper.jobs.store import JobStore

log = logging.getLogger(__name__)


def team_namespaces(config: TrainqConfig) -> dict[str, str]:
    return {t.name: t.namespace for t in config.teams}


def location(record: dict, namespaces: dict[str, str], instance: str) -> tuple[str, str]:
    """The job's PyTorchJob (namespace, name): as dispatch recorded it, else as it would be."""
    ref = record.get("pytorchjob")
    if ref:
        return ref["namespace"], ref["name"]
    return namespaces[record["team"]], pytorchjob.pytorchjob_name(instance, record["id"])


def backend_of(record: dict, config: TrainqConfig) -> backends.Backend:
    """The kind the job's workload is: as dispatch recorded it, else its team's backend."""
    team = config.team(record["team"])
    return backends.of(record, team.backend if team else backends.PYTORCHJOB_NAME)


def gone(store: JobStore, record: dict, namespace: str, name: str) -> bool:
    """The job's PyTorchJob no longer exists: a cancelling job is now cancelled, a dispatched
    one was deleted outside trainq. True when the record changed."""
    job_id, status = record["id"], JobStatus(record["status"])
    if status == JobStatus.CANCELLING:
        fields = {"reason": "Cancelled", "message": record.get("message"),
                  "finished_at": utcnow()}  # fmt: skip
    elif status in DISPATCHED:
        fields = {
            "reason": "PyTorchJobDeleted",
            # (the reason keeps its name on either backend: frontends match on it)
            "message": f"{backends.of(record).kind} {namespace}/{name} was deleted outside trainq",
            "finished_at": utcnow(),
        }
    else:
        return False  # finished jobs keep their history when their PyTorchJob is cleaned up
    if not store.transition(job_id, JobStatus.CANCELLED, fields, expect={status}).applied:
        return False
    log.info("job %s: %s -> cancelled (%s)", job_id, status.value, fields["reason"])
    return True
