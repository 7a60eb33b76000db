"""Building the Kubeflow PyTorchJob (kubeflow.org/v1) for a trainq job: pure functions over
plain data. The request can only express a safe subset of a pod spec (no privileged mode,
hostPath, hostNetwork...), every container runs with a restrictive securityContext, pods run
as non-root unless the team's config opts out, and a replica without GPUs gets none from the
NVIDIA container runtime. A team with a checkpoint claim gets it mounted in every replica, one
subdirectory per PyTorchJob (its name is deterministic, so a resumed job finds its checkpoints).
"""

import copy
from dataclasses import dataclass

from queue_workers.kube.gates import GATE
from wrapper.config.team import CHECKPOINT_ENV
from wrapper.runs import tokens

GROUP, VERSION, PLURAL, KIND = "kubeflow.org", "v1", "pytorchjobs", "PyTorchJob"
CONTAINER = "pytorch"  # the operator finds the master port and injects env by this name
GPU_RESOURCE = "nvidia.com/gpu"

LABEL_TEAM = "trainq.dev/team"
LABEL_JOB_ID = "trainq.dev/job-id"
LABEL_INSTANCE = "trainq.dev/instance"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY = "trainq"
ANNOTATION_JOB_NAME = "trainq.dev/job-name"
# A random token per job: ids restart if Redis is ever wiped while old PyTorchJobs remain, and
# a PyTorchJob with the right name and labels but another uid must never be adopted.
ANNOTATION_JOB_UID = "trainq.dev/job-uid"

# The pod's; a team with `allow_root` gets {"runAsNonRoot": False} through its placement
# (merged over this). With the containers' below, a pod meets the "restricted" Pod Security
# Standard its namespace enforces; the seccomp profile is set for the pod too, so containers
# others add (the operator's init container) have it.
POD_SECURITY_CONTEXT = {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}}
# The NVIDIA runtime exposes the GPUs this names; many CUDA images set it to "all" in their
# ENV, which would give a replica that requested no GPU (and counts none) every GPU of its node.
NO_GPUS = {"name": "NVIDIA_VISIBLE_DEVICES", "value": "void"}
GPU_RUNTIME_ENV_PREFIX = "NVIDIA_"
SECURITY_CONTEXT = {
    "allowPrivilegeEscalation": False,
    "privileged": False,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}


CHECKPOINT_VOLUME = "checkpoints"


@dataclass(frozen=True)
class CheckpointMount:
    """The team's checkpoint claim (`Team.checkpoints.claim`) and where every replica sees it
    (`dispatch.checkpoint_path`, which CHECKPOINT_DIR then names)."""

    claim: str
    path: str

    def volume(self) -> dict:
        return {"name": CHECKPOINT_VOLUME, "persistentVolumeClaim": {"claimName": self.claim}}

    def mount(self, job_name: str) -> dict:
        # One directory per PyTorchJob: the same after a suspension or a restart (the name is
        # deterministic), and no job sees another's checkpoints.
        return {"name": CHECKPOINT_VOLUME, "mountPath": self.path, "subPath": job_name}


def namespace_labels(allow_root: bool) -> dict[str, str]:
    """Pod Security Admission labels of a team namespace: "restricted", which trainq's pods
    meet, or "baseline" for a team allowed to run as root (restricted requires non-root)."""
    level = "baseline" if allow_root else "restricted"
    return {
        "pod-security.kubernetes.io/enforce": level,
        "pod-security.kubernetes.io/enforce-version": "latest",
        "pod-security.kubernetes.io/warn": level,
        "pod-security.kubernetes.io/audit": level,
    }


def pytorchjob_name(instance: str, job_id: int) -> str:
    """Deterministic, so a retried dispatch meets AlreadyExists instead of a second job.
    instance (<= 20) + '-' + id (<= 19 digits) keeps '<name>-worker-<index>' <= 63 chars."""
    return f"{instance}-{job_id}"


def selector(instance: str) -> str:
    return f"{LABEL_MANAGED_BY}={MANAGED_BY},{LABEL_INSTANCE}={instance}"


def pod_selector(name: str) -> str:
    """The label selector of a PyTorchJob's pods (the operator labels them with its name)."""
    return f"training.kubeflow.org/job-name={name}"


def trainq_labels(instance: str, team: str, job_id: int) -> dict[str, str]:
    return {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_INSTANCE: instance,
        LABEL_TEAM: team,
        LABEL_JOB_ID: str(job_id),
    }


def is_ours(obj: dict, instance: str, record: dict) -> bool:
    """The PyTorchJob was created for exactly this job record."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    expected = trainq_labels(instance, record["team"], record["id"])
    uid = (meta.get("annotations") or {}).get(ANNOTATION_JOB_UID)
    return all(labels.get(k) == v for k, v in expected.items()) and uid == record.get("uid")


def job_id_of(obj: dict, instance: str) -> int | None:
    """The trainq job id of a PyTorchJob this instance manages, else None."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(LABEL_MANAGED_BY) != MANAGED_BY or labels.get(LABEL_INSTANCE) != instance:
        return None
    raw = labels.get(LABEL_JOB_ID, "")
    # isdigit() alone takes other Unicode digits, which int() may refuse ('²').
    return int(raw) if raw.isascii() and raw.isdigit() else None


def _env(record: dict, checkpoints: CheckpointMount | None,
         metrics_url: str | None) -> list[dict]:  # fmt: skip
    spec = record["spec"]
    # NVIDIA_* (and CHECKPOINT_DIR with a claim) are refused at submission; a record written
    # before that rule never passes one.
    env = [{"name": k, "value": v} for k, v in sorted(spec["env"].items())
           if not k.startswith(GPU_RUNTIME_ENV_PREFIX)
           and not (checkpoints and k == CHECKPOINT_ENV)]  # fmt: skip
    env += [
        {"name": "TRAINQ_JOB_ID", "value": str(record["id"])},
        {"name": "TRAINQ_TEAM", "value": record["team"]},
        {"name": "JOB_ID", "value": str(record["id"])},
    ]
    if spec.get("dataset"):
        env += [
            {"name": "TRAINING_DATASET_ID", "value": spec["dataset"]["id"]},
            {"name": "TRAINING_DATASET_VERSION_HASH", "value": spec["dataset"]["version_hash"]},
        ]
    if not spec["resources"]["gpu"]:
        env.append(dict(NO_GPUS))
    if checkpoints:
        env.append({"name": CHECKPOINT_ENV, "value": checkpoints.path})
    if metrics_url and record.get("uid"):
        # The training-metrics channel: this job's own token, good for this job only.
        env += [{"name": tokens.URL_ENV, "value": tokens.report_url(metrics_url, record)},
                {"name": tokens.TOKEN_ENV, "value": tokens.metrics_token(record)}]  # fmt: skip
    return env


def _resources(spec: dict) -> dict:
    amounts = {"cpu": spec["resources"]["cpu"], "memory": spec["resources"]["memory"]}
    if spec["resources"]["gpu"]:
        amounts[GPU_RESOURCE] = str(spec["resources"]["gpu"])
    # Requests equal limits: the quota accounting of the admission issue relies on it.
    return {"requests": dict(amounts), "limits": dict(amounts)}


def pinned(nodes: list[str]) -> dict | None:
    """A required node affinity to the nodes named (None: none named, no pin): one term per
    node, ORed (a node field selector takes a single value: the apiserver refuses more)."""
    if not nodes:
        return None
    terms = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
             for node in sorted(set(nodes))]  # fmt: skip
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": terms}}}  # fmt: skip


def pins(counted: list[str] | None) -> dict[str, list[str]]:
    """The nodes admission counted each replica type's replicas on (one node per replica: the
    Master's first, then the Workers'); each template is pinned to its own (`pinned`), so the
    scheduler places the gang where the room was counted and not in room counted for another
    admitted job. The Workers share one template, so they are pinned to their nodes as a set."""
    counted = counted or []
    return {"Master": counted[:1], "Worker": counted[1:]}


def _replica(record: dict, name: str, labels: dict, replicas: int, placement: dict,
             nodes: list[str], checkpoints: CheckpointMount | None,
             metrics_url: str | None = None) -> dict:  # fmt: skip
    spec = record["spec"]
    container = {
        "name": CONTAINER,
        "image": spec["image"],
        "env": _env(record, checkpoints, metrics_url),
        "resources": _resources(spec),
        "securityContext": dict(SECURITY_CONTEXT),
    }
    if checkpoints:
        container["volumeMounts"] = [checkpoints.mount(name)]
    if spec.get("command"):
        container["command"] = list(spec["command"])
    if spec.get("args"):
        container["args"] = list(spec["args"])
    metadata: dict = {"labels": dict(labels)}
    if spec.get("annotations"):
        metadata["annotations"] = dict(spec["annotations"])
    placement = copy.deepcopy(placement)
    security = {**copy.deepcopy(POD_SECURITY_CONTEXT), **placement.pop("securityContext", {})}
    return {
        "replicas": replicas,
        "restartPolicy": spec["restart_policy"],
        "template": {
            "metadata": metadata,
            "spec": {
                "containers": [container],
                # Training code has no business talking to the Kubernetes API.
                "automountServiceAccountToken": False,
                "securityContext": security,
                **placement,
                **({"affinity": pinned(nodes)} if nodes else {}),
                # Pinned to a set of nodes: held until the watcher names each replica's own
                # node (gates.py). A pin to one node is exact already, and goes at once.
                **({"schedulingGates": [{"name": GATE}]} if len(set(nodes)) > 1 else {}),
                **({"volumes": [checkpoints.volume()]} if checkpoints else {}),
            },
        },
    }


def object_meta(record: dict, name: str, namespace: str, labels: dict) -> dict:
    """A workload's metadata: its deterministic name, trainq's labels, the job's name and uid
    (the uid tells this job's workload from a leftover of the same name)."""
    return {
        "name": name,
        "namespace": namespace,
        "labels": labels,
        "annotations": {ANNOTATION_JOB_NAME: record["name"], ANNOTATION_JOB_UID: record["uid"]},
    }


def build(record: dict, namespace: str, instance: str, placement: dict | None = None,
          counted: list[str] | None = None,
          checkpoints: CheckpointMount | None = None,
          metrics_url: str | None = None) -> dict:  # fmt: skip
    """The PyTorchJob for a job record: 1 Master + spec.workers Workers. placement holds the
    pod-spec fields the team's config sets on every pod (`Team.pod_placement`: nodeSelector
    and tolerations of its machine pool, and the securityContext of a team allowed root);
    counted: the node admission counted each replica on (`pins`; None: counted in sums);
    checkpoints: the team's checkpoint claim, mounted in every replica (None: no volume);
    metrics_url: the API's base URL for the training-metrics channel (None: no channel)."""
    placement = placement or {}
    spec = record["spec"]
    name = pytorchjob_name(instance, record["id"])
    labels = {**spec.get("labels", {}), **trainq_labels(instance, record["team"], record["id"])}
    nodes = pins(counted)
    replica_specs = {"Master": _replica(record, name, labels, 1, placement, nodes["Master"],
                                        checkpoints, metrics_url)}  # fmt: skip
    if spec["workers"] > 0:
        replica_specs["Worker"] = _replica(record, name, labels, spec["workers"], placement,
                                           nodes["Worker"], checkpoints,
                                           metrics_url)  # fmt: skip
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": object_meta(record, name, namespace, labels),
        "spec": {
            "pytorchReplicaSpecs": replica_specs,
            "runPolicy": {
                "activeDeadlineSeconds": spec["max_runtime_seconds"],
                "backoffLimit": spec["backoff_limit"],
            },
        },
    }


def webhook_problems(obj: dict) -> list[str]:
    """The checks of the operator's validating webhook (not deployed here), so an object that
    the webhook would refuse never reaches the apiserver."""
    problems = []
    name = obj["metadata"]["name"]
    if len(name) > 63 or not name[:1].isalpha() or not all(c.isalnum() or c == "-" for c in name):
        problems.append(f"metadata.name {name!r} is not a DNS-1035 label")
    specs = obj["spec"]["pytorchReplicaSpecs"]
    if set(specs) - {"Master", "Worker"}:
        problems.append("replica types must be Master or Worker")
    for rtype, rspec in specs.items():
        containers = rspec["template"]["spec"]["containers"]
        if not any(c.get("name") == CONTAINER for c in containers):
            problems.append(f"{rtype}: no container named {CONTAINER!r}")
        if any(not c.get("image") for c in containers):
            problems.append(f"{rtype}: every container needs an image")
        pod_name = f"{name}-{rtype.lower()}-{rspec['replicas'] - 1}"
        if len(pod_name) > 63:
            problems.append(f"{rtype}: pod name {pod_name!r} would exceed 63 characters")
    if "Master" in specs and specs["Master"].get("replicas") != 1:
        problems.append("Master replicas must be exactly 1")
    if "Worker" in specs and (specs["Worker"].get("replicas") or 0) < 1:
        problems.append("Worker replicas must be at least 1")
    return problems
