"""Reading a PyTorchJob's status back into job record fields: pure functions over the CR
dict as the apiserver returns it."""

from dataclasses import dataclass

from wrapper.jobs.states import JobStatus

# The first condition type that is True decides the status; Failed and Succeeded are final
# in the operator, and Restarting replaces Running while pods are being recreated.
_PRECEDENCE = (
    ("Failed", JobStatus.FAILED),
    ("Succeeded", JobStatus.SUCCEEDED),
    ("Restarting", JobStatus.RESTARTING),
    ("Running", JobStatus.RUNNING),
    ("Created", JobStatus.CREATED),
)


@dataclass(frozen=True)
class Observation:
    status: JobStatus
    fields: dict  # record fields to write along with the status


def _counts(replica_status: dict | None) -> dict:
    rs = replica_status or {}
    return {k: int(rs.get(k) or 0) for k in ("active", "succeeded", "failed")}


def record_conditions(conditions: list[dict]) -> list[dict]:
    """A workload's status conditions as the job record keeps them."""
    return [
        {
            "type": c.get("type"),
            "status": c.get("status"),
            "reason": c.get("reason"),
            "message": c.get("message"),
            "last_transition_time": c.get("lastTransitionTime"),
        }
        for c in conditions
    ]


def observe(obj: dict) -> Observation:
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    true = {c.get("type"): c for c in conditions if c.get("status") == "True"}
    job_status, deciding = JobStatus.CREATED, None
    for ctype, mapped in _PRECEDENCE:
        if ctype in true:
            job_status, deciding = mapped, true[ctype]
            break
    if deciding is None and conditions:
        deciding = conditions[-1]  # e.g. Suspended: still `created` from trainq's view
    replica_statuses = status.get("replicaStatuses") or {}
    finished_at = status.get("completionTime")
    if job_status == JobStatus.FAILED and not finished_at and deciding:
        finished_at = deciding.get("lastTransitionTime")
    fields = {
        "pytorchjob": {"namespace": meta.get("namespace"), "name": meta.get("name")},
        "replicas": {
            "Master": _counts(replica_statuses.get("Master")),
            "Worker": _counts(replica_statuses.get("Worker")),
        },
        "conditions": record_conditions(conditions),
        "reason": deciding.get("reason") if deciding else None,
        "message": deciding.get("message") if deciding else None,
        "started_at": status.get("startTime"),
        "finished_at": finished_at
        if job_status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
        else None,
    }
    return Observation(job_status, fields)
