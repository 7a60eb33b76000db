"""Building the Kubeflow Trainer v2 TrainJob (trainer.kubeflow.org/v1alpha1) for a trainq job:
pure functions over plain data, the second backend beside `pytorchjob` (issue 20).

A TrainJob names a ClusterTrainingRuntime (`torch-distributed` by default) whose JobSet has one
replicated job, `node`, whose pods run a container named `node`; the TrainJob sets what the
runtime lets it: `spec.trainer` (image, command, args, env, numNodes, resourcesPerNode,
numProcPerNode) and, through one `runtimePatches` entry owned by trainq, the labels and
annotations of the JobSet, its Jobs and pods, and the pod-spec fields trainq sets on every pod
(security context, placement, the checkpoint volume). The name, labels and the uid annotation
follow `pytorchjob`'s rules, so adoption, selection and the record's ref work the same.

Where the two backends differ (upstream API, v2.3.0): the Master and the Workers are the nodes
0 and 1..workers of one template, so admission's counted nodes pin them as one set; the pod's
restartPolicy and the Jobs' backoffLimit come from the runtime (a TrainJob cannot patch them);
`automountServiceAccountToken` is not patchable either (a trainq-owned runtime can set it).
"""

import copy

from queue_workers.kube import pytorchjob
from queue_workers.kube.pytorchjob import (
    POD_SECURITY_CONTEXT,
    SECURITY_CONTEXT,
    CheckpointMount,
    pinned,
    trainq_labels,
)

GROUP, VERSION, PLURAL, KIND = "trainer.kubeflow.org", "v1alpha1", "trainjobs", "TrainJob"
RUNTIME_KIND = "ClusterTrainingRuntime"
DEFAULT_RUNTIME = "torch-distributed"
# The replicated job and container of the torch runtimes that TrainJob.spec.trainer fills
# (the runtime marks it with the label trainer.kubeflow.org/trainjob-ancestor-step: trainer).
NODE_JOB = "node"
CONTAINER = "node"
# trainq's entry of spec.runtimePatches (a list map keyed by manager).
PATCH_MANAGER = "trainq.dev/dispatch"
# Env names the torch plugin sets itself; its validating webhook refuses a TrainJob setting one.
RESERVED_ENV = frozenset(
    {"PET_NNODES", "PET_NPROC_PER_NODE", "PET_NODE_RANK", "PET_MASTER_ADDR", "PET_MASTER_PORT"}
)
# JobSet names a node's Job "<jobset>-<replicated job>-<job index>" and its pods' hostnames
# "<job>-<completion index>": the TrainJob name plus this must stay a DNS label.
_HOSTNAME_SUFFIX = f"-{NODE_JOB}-0-"


def trainjob_name(instance: str, job_id: int) -> str:
    """The same deterministic name as the PyTorchJob's (`pytorchjob.pytorchjob_name`)."""
    return pytorchjob.pytorchjob_name(instance, job_id)


def pod_selector(name: str) -> str:
    """The label selector of a TrainJob's pods (JobSet labels its pods with its name, which is
    the TrainJob's); their node index is the label batch.kubernetes.io/job-completion-index."""
    return f"jobset.sigs.k8s.io/jobset-name={name}"


def num_nodes(record: dict) -> int:
    """1 (the Master's, node 0) + spec.workers."""
    return 1 + int(record["spec"]["workers"])


def _env(record: dict, checkpoints: CheckpointMount | None, metrics_url: str | None) -> list[dict]:
    env = pytorchjob._env(record, checkpoints, metrics_url)
    return [e for e in env if e["name"] not in RESERVED_ENV]


def _pod_patch(record: dict, name: str, placement: dict, affinity: dict | None,
               checkpoints: CheckpointMount | None) -> dict:  # fmt: skip
    placement = copy.deepcopy(placement)
    security = {**copy.deepcopy(POD_SECURITY_CONTEXT), **placement.pop("securityContext", {})}
    container: dict = {"name": CONTAINER, "securityContext": dict(SECURITY_CONTEXT)}
    if checkpoints:
        container["volumeMounts"] = [checkpoints.mount(name)]
    spec = {"securityContext": security, "containers": [container]}
    # The fields a runtime patch may set (PodSpecPatch); a pin replaces the placement's
    # affinity, as in `pytorchjob._replica`.
    for key in ("nodeSelector", "tolerations", "affinity"):
        if placement.get(key):
            spec[key] = placement[key]
    if affinity:
        spec["affinity"] = affinity
    if checkpoints:
        spec["volumes"] = [checkpoints.volume()]
    return spec


def build(record: dict, namespace: str, instance: str, placement: dict | None = None,
          counted: list[str] | None = None,
          checkpoints: CheckpointMount | None = None,
          metrics_url: str | None = None,
          runtime: str = DEFAULT_RUNTIME) -> dict:  # fmt: skip
    """The TrainJob for a job record: numNodes = 1 + spec.workers, each node with
    spec.resources. The arguments are `pytorchjob.build`'s (placement: the team's pod-spec
    fields; counted: the nodes admission counted the replicas on, which here pin every node to
    that set; checkpoints: the team's claim; metrics_url: the metrics channel), plus runtime:
    the ClusterTrainingRuntime it runs on."""
    placement = placement or {}
    spec = record["spec"]
    name = trainjob_name(instance, record["id"])
    labels = {**spec.get("labels", {}), **trainq_labels(instance, record["team"], record["id"])}
    pod_meta: dict = {"labels": dict(labels)}
    if spec.get("annotations"):
        pod_meta["annotations"] = dict(spec["annotations"])
    trainer: dict = {
        "image": spec["image"],
        "env": _env(record, checkpoints, metrics_url),
        "numNodes": num_nodes(record),
        # One process per node, as each PyTorchJob replica runs one.
        "numProcPerNode": 1,
        "resourcesPerNode": pytorchjob._resources(spec),
    }
    if spec.get("command"):
        trainer["command"] = list(spec["command"])
    if spec.get("args"):
        trainer["args"] = list(spec["args"])
    pod = _pod_patch(record, name, placement, pinned(counted or []), checkpoints)
    node_job = {
        "name": NODE_JOB,
        "template": {
            "metadata": {"labels": dict(labels)},
            "spec": {"template": {"metadata": pod_meta, "spec": pod}},
        },
    }
    body_spec: dict = {
        "runtimeRef": {"name": runtime, "apiGroup": GROUP, "kind": RUNTIME_KIND},
        "trainer": trainer,
        "suspend": False,
        "runtimePatches": [{
            "manager": PATCH_MANAGER,
            "trainingRuntimeSpec": {"template": {
                "metadata": {"labels": dict(labels)},
                "spec": {"replicatedJobs": [node_job]},
            }},
        }],
    }  # fmt: skip
    if spec.get("max_runtime_seconds"):
        body_spec["activeDeadlineSeconds"] = int(spec["max_runtime_seconds"])
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": pytorchjob.object_meta(record, name, namespace, labels),
        "spec": body_spec,
    }


def suspend_patch(suspend: bool) -> dict:
    """The merge patch that suspends (True) or resumes (False) a TrainJob: `spec.suspend`, the
    one field of its spec that stays mutable (the trainer controller suspends the JobSet)."""
    return {"spec": {"suspend": suspend}}


def problems(obj: dict) -> list[str]:
    """What the CRD's rules and the trainer's validating webhook would refuse, checked before
    the object reaches the apiserver (as `pytorchjob.webhook_problems`)."""
    found = []
    name = obj["metadata"]["name"]
    if len(name) > 63 or not name[:1].isalpha() or not all(c.isalnum() or c == "-" for c in name):
        found.append(f"metadata.name {name!r} is not a DNS-1035 label")
    trainer = obj["spec"].get("trainer") or {}
    nodes = int(trainer.get("numNodes") or 1)
    hostname = f"{name}{_HOSTNAME_SUFFIX}{nodes - 1}"
    if len(hostname) > 63:
        found.append(f"pod hostname {hostname!r} would exceed 63 characters")
    reserved = sorted({e["name"] for e in trainer.get("env") or []} & RESERVED_ENV)
    if reserved:
        found.append(f"spec.trainer.env must not set the torch plugin's {reserved}")
    if nodes < 1:
        found.append("spec.trainer.numNodes must be at least 1")
    if not trainer.get("image"):
        found.append("spec.trainer.image is required")
    deadline = obj["spec"].get("activeDeadlineSeconds")
    if deadline is not None and deadline < 1:
        found.append("spec.activeDeadlineSeconds must be at least 1")
    return found
