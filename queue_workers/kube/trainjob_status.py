"""Reading a TrainJob's status back into the job record fields `status.observe` produces for a
PyTorchJob, so frontends cannot tell the backends apart: pure functions over the dicts the
apiserver returns.

The TrainJob carries its conditions (Complete and Failed copied from its JobSet's, Suspended,
Failed/DeadlineExceeded) and, in `status.jobsStatus`, its JobSet's replicated-job status:
counts of child *Jobs*, not pods. The torch runtimes run one Job per replicated job, with
numNodes pods (completion index 0 = the Master, 1.. = the Workers), so the record's per-role
pod counts (`replicas.Master`, `replicas.Worker`) come from the pods when the caller passes them
(`pods`: the TrainJob's pods, any order), else from the Job-level counts of the trainer's
replicated job, which move all of a gang's nodes together.
"""

from queue_workers.kube.status import Observation, record_conditions
from queue_workers.kube.trainjob import NODE_JOB
from wrapper.jobs.states import JobStatus

# The label batch/v1 puts on an Indexed Job's pods (and JobSet's on its pods).
COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
REPLICATED_JOB = "jobset.sigs.k8s.io/replicatedjob-name"
_ZERO = {"active": 0, "succeeded": 0, "failed": 0}


def _true(conditions: list[dict], ctype: str) -> dict | None:
    for c in conditions:
        if c.get("type") == ctype and c.get("status") == "True":
            return c
    return None


def _num_nodes(obj: dict) -> int:
    trainer = (obj.get("spec") or {}).get("trainer") or {}
    return max(1, int(trainer.get("numNodes") or 1))


def _node_job(status: dict) -> dict:
    for js in status.get("jobsStatus") or []:
        if js.get("name") == NODE_JOB:
            return js
    return {}


def counts_from_jobs(node_job: dict, nodes: int) -> dict[str, dict]:
    """Per-role pod counts from the trainer replicated job's Job-level counts: its one Job
    succeeded or failed counts for every node of the gang, and active only once it is ready
    (every pod ready: JobSet's `ready`), since a Job is `active` from its first Pending pod;
    the pods-ready guard reads these as the operator's Running-pod counts."""
    workers = nodes - 1
    out = {"Master": dict(_ZERO), "Worker": dict(_ZERO)}
    for key, source in (("active", "ready"), ("succeeded", "succeeded"), ("failed", "failed")):
        if int(node_job.get(source) or 0) > 0:
            out["Master"][key], out["Worker"][key] = 1, workers
            break  # one Job: in one state at a time
    return out


def counts_from_pods(pods: list[dict]) -> dict[str, dict]:
    """Per-role pod counts from the pods of the trainer replicated job (as the operator counts
    a PyTorchJob's replicas): Pending/Running active, Succeeded, Failed; deleted pods skipped.
    A node's pod replaced after a failure counts once per pod, as the operator's do."""
    out = {"Master": dict(_ZERO), "Worker": dict(_ZERO)}
    for pod in pods:
        meta = pod.get("metadata") or {}
        labels = meta.get("labels") or {}
        if labels.get(REPLICATED_JOB, NODE_JOB) != NODE_JOB:
            continue  # an initializer's pod
        index = labels.get(COMPLETION_INDEX)
        if index is None or not index.isdigit():
            continue
        role = "Master" if int(index) == 0 else "Worker"
        phase = (pod.get("status") or {}).get("phase")
        if phase in ("Pending", "Running") and not meta.get("deletionTimestamp"):
            out[role]["active"] += 1
        elif phase == "Succeeded":
            out[role]["succeeded"] += 1
        elif phase == "Failed":
            out[role]["failed"] += 1
    return out


def _started_at(obj: dict, pods: list[dict] | None, replicas: dict) -> str | None:
    """The earliest pod start when pods are known, else the TrainJob's creation once any of its
    nodes ran (a TrainJob records no start time of its own)."""
    if pods:
        starts = [p["status"]["startTime"] for p in pods
                  if (p.get("status") or {}).get("startTime")]  # fmt: skip
        if starts:
            return min(starts)
    if any(replicas[r][k] for r in replicas for k in _ZERO):
        return (obj.get("metadata") or {}).get("creationTimestamp")
    return None


def observe(obj: dict, pods: list[dict] | None = None, jobset: dict | None = None) -> Observation:
    """The record's status and fields for a TrainJob (pods: its pods, for exact per-role
    counts, and a failed pod awaiting its replacement makes it `restarting`; jobset: its
    JobSet, whose restarts make a running job `restarting`)."""
    meta = obj.get("metadata") or {}
    status = obj.get("status") or {}
    conditions = status.get("conditions") or []
    nodes = _num_nodes(obj)
    if pods is not None:
        replicas = counts_from_pods(pods)
    else:
        replicas = counts_from_jobs(_node_job(status), nodes)
    active = replicas["Master"]["active"] + replicas["Worker"]["active"]
    restarts = int(((jobset or {}).get("status") or {}).get("restarts") or 0)
    failed_pods = pods is not None and replicas["Master"]["failed"] + replicas["Worker"]["failed"]
    deciding = None
    if failed := _true(conditions, "Failed"):
        job_status, deciding = JobStatus.FAILED, failed
    elif complete := _true(conditions, "Complete"):
        job_status, deciding = JobStatus.SUCCEEDED, complete
    elif suspended := _true(conditions, "Suspended"):
        job_status, deciding = JobStatus.CREATED, suspended  # as a suspended PyTorchJob
    elif (active and restarts) or (not active and failed_pods):
        # The JobSet recreated its Jobs, or a node's pod failed and its Job (backoffLimit not
        # reached: else the TrainJob would be Failed) waits to replace it.
        job_status = JobStatus.RESTARTING
    elif active:
        job_status = JobStatus.RUNNING
    else:
        job_status = JobStatus.CREATED
    if deciding is None and conditions:
        deciding = conditions[-1]  # e.g. Suspended False (Resumed)
    finished_at = None
    if job_status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        finished_at = deciding.get("lastTransitionTime")
    fields = {
        # The workload's ref, under the record's existing key (logs, retention and
        # cancellation read it); `backend` says which kind it names.
        "pytorchjob": {"namespace": meta.get("namespace"), "name": meta.get("name")},
        "backend": "trainjob",
        "replicas": replicas,
        "conditions": record_conditions(conditions),
        "reason": deciding.get("reason") if deciding else None,
        "message": deciding.get("message") if deciding else None,
        "started_at": _started_at(obj, pods, replicas),
        "finished_at": finished_at,
    }
    return Observation(job_status, fields)
