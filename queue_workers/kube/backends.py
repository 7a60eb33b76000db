"""The two workload kinds trainq can run a job as, behind one interface: the Kubeflow training
operator's PyTorchJob (kubeflow.org/v1, the default) and Kubeflow Trainer v2's TrainJob
(trainer.kubeflow.org/v1alpha1), chosen per team (`teams[].backend`). Dispatch builds, checks,
creates, suspends and resumes through a `Backend`; the watcher mirrors each kind with its own
list-watch; admission and placement never look at it. Both kinds carry the same name, labels
and uid annotation (`pytorchjob`), so adoption, selection and the record's ref work alike.
"""

from collections.abc import Callable
from dataclasses import dataclass

from queue_workers.kube import pytorchjob, status, trainjob, trainjob_status

PYTORCHJOB_NAME, TRAINJOB_NAME = "pytorchjob", "trainjob"


@dataclass(frozen=True)
class Backend:
    name: str  # as config and the job record spell it
    kind: str
    group: str
    version: str
    plural: str
    # (record, namespace, instance, placement, counted, checkpoints, metrics_url, runtime)
    # -> body; runtime: the team's ClusterTrainingRuntime (TrainJobs only)
    build: Callable[..., dict]
    problems: Callable[[dict], list[str]]  # what the CRD or the webhooks would refuse
    observe: Callable[[dict], status.Observation]
    suspended: Callable[[dict], bool]
    # (suspend, body or None) -> the merge patch; resuming with the body as dispatch built it
    # now also sets its pods' pins (the nodes this admission counted: they may differ).
    suspend_patch: Callable[[bool, dict | None], dict]
    pod_selector: Callable[[str], str]  # a workload's name -> the label selector of its pods
    # The pod templates a body asks for: (role, template metadata, images, replica count)
    templates: Callable[[dict], list[tuple[str, dict, list[str], int]]]

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


def _build_pytorchjob(record, namespace, instance, placement, counted, checkpoints, metrics_url,
                      runtime=None) -> dict:  # fmt: skip
    return pytorchjob.build(record, namespace, instance, placement, counted, checkpoints,
                            metrics_url)  # fmt: skip


def _pytorchjob_suspended(obj: dict) -> bool:
    return bool(((obj.get("spec") or {}).get("runPolicy") or {}).get("suspend"))


def _pytorchjob_patch(suspend: bool, body: dict | None) -> dict:
    spec: dict = {"runPolicy": {"suspend": suspend}}
    if body is not None and not suspend:
        # (the pins and their placement gate: a merge patch replaces both lists whole)
        spec["pytorchReplicaSpecs"] = {
            rtype: {"template": {"spec": {k: r["template"]["spec"].get(k)
                                          for k in ("affinity", "schedulingGates")}}}
            for rtype, r in body["spec"]["pytorchReplicaSpecs"].items()
        }  # fmt: skip
    return {"spec": spec}


def _pytorchjob_templates(body: dict) -> list[tuple[str, dict, list[str], int]]:
    return [
        (rtype, r["template"].get("metadata") or {},
         [c.get("image") or "" for c in r["template"]["spec"]["containers"]],
         int(r.get("replicas") or 0))
        for rtype, r in body["spec"]["pytorchReplicaSpecs"].items()
    ]  # fmt: skip


def _trainjob_suspended(obj: dict) -> bool:
    return bool((obj.get("spec") or {}).get("suspend"))


def _trainjob_patch(suspend: bool, body: dict | None) -> dict:
    patch = trainjob.suspend_patch(suspend)
    if body is not None and not suspend:
        # A list map keyed by manager that a merge patch replaces whole: trainq's entry is the
        # only one on a TrainJob it created.
        patch["spec"]["runtimePatches"] = body["spec"]["runtimePatches"]
    return patch


def _trainjob_templates(body: dict) -> list[tuple[str, dict, list[str], int]]:
    """One template for every node: node 0 is the Master, the rest are Workers."""
    trainer = body["spec"]["trainer"]
    meta = {}
    for entry in body["spec"].get("runtimePatches") or []:
        for rjob in entry["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]:
            meta = rjob["template"]["spec"]["template"].get("metadata") or {}
    nodes = int(trainer.get("numNodes") or 1)
    images = [trainer.get("image") or ""]
    return [("Master", meta, images, 1), ("Worker", meta, images, nodes - 1)]


PYTORCHJOB = Backend(
    PYTORCHJOB_NAME, "PyTorchJob", pytorchjob.GROUP, pytorchjob.VERSION, pytorchjob.PLURAL,
    build=_build_pytorchjob, problems=pytorchjob.webhook_problems, observe=status.observe,
    suspended=_pytorchjob_suspended, suspend_patch=_pytorchjob_patch,
    pod_selector=pytorchjob.pod_selector, templates=_pytorchjob_templates,
)  # fmt: skip
TRAINJOB = Backend(
    TRAINJOB_NAME, trainjob.KIND, trainjob.GROUP, trainjob.VERSION, trainjob.PLURAL,
    build=trainjob.build, problems=trainjob.problems, observe=trainjob_status.observe,
    suspended=_trainjob_suspended, suspend_patch=_trainjob_patch,
    pod_selector=trainjob.pod_selector, templates=_trainjob_templates,
)  # fmt: skip
BACKENDS = {b.name: b for b in (PYTORCHJOB, TRAINJOB)}


def of(record: dict, team_backend: str = PYTORCHJOB_NAME) -> Backend:
    """The backend a job record ran on (dispatch records it), else the one it will run on: its
    team's (`team_backend`; records from before there was a choice ran PyTorchJobs)."""
    return BACKENDS[record.get("backend") or team_backend]
