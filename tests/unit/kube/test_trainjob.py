"""The TrainJob builder (Kubeflow Trainer v2 backend): the same job record gives a TrainJob with
the PyTorchJob's name, labels, uid annotation, env, resources and pod security."""

from queue_workers.kube import pytorchjob, trainjob
from queue_workers.kube.pytorchjob import CheckpointMount
from tests.unit.conftest import record


def _patch(obj) -> dict:
    patches = obj["spec"]["runtimePatches"]
    assert [p["manager"] for p in patches] == ["trainq.dev/dispatch"]
    return patches[0]["trainingRuntimeSpec"]["template"]


def _node_job(obj) -> dict:
    jobs = _patch(obj)["spec"]["replicatedJobs"]
    assert [j["name"] for j in jobs] == ["node"]
    return jobs[0]["template"]


def _pod(obj) -> dict:
    return _node_job(obj)["spec"]["template"]


def test_shape_of_the_trainjob():
    obj = trainjob.build(record(job_id=42), "team-alpha", "tq")
    assert obj["apiVersion"] == "trainer.kubeflow.org/v1alpha1" and obj["kind"] == "TrainJob"
    # The PyTorchJob's deterministic name, labels and ownership annotations.
    twin = pytorchjob.build(record(job_id=42), "team-alpha", "tq")
    assert obj["metadata"] == twin["metadata"]
    assert obj["metadata"]["name"] == "tq-42"
    spec = obj["spec"]
    assert spec["runtimeRef"] == {"name": "torch-distributed", "apiGroup": "trainer.kubeflow.org",
                                  "kind": "ClusterTrainingRuntime"}  # fmt: skip
    assert spec["suspend"] is False and spec["activeDeadlineSeconds"] == 3600
    trainer = spec["trainer"]
    assert trainer["numNodes"] == 3 and trainer["numProcPerNode"] == 1
    assert trainer["image"] == "docker.io/library/busybox:1.36"
    assert trainer["command"] == ["python", "train.py"] and trainer["args"] == ["--epochs", "3"]
    amounts = {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert trainer["resourcesPerNode"] == {"requests": amounts, "limits": amounts}
    assert trainjob.problems(obj) == []


def test_env_is_the_pytorchjobs():
    obj = trainjob.build(record(job_id=42), "team-alpha", "tq")
    env = {e["name"]: e["value"] for e in obj["spec"]["trainer"]["env"]}
    assert env == {
        "BATCH": "64",
        "LR": "0.1",
        "TRAINQ_JOB_ID": "42",
        "TRAINQ_TEAM": "alpha",
        "JOB_ID": "42",
        "TRAINING_DATASET_ID": "imdb",
        "TRAINING_DATASET_VERSION_HASH": "hash-1",
    }
    cpu_only = trainjob.build(record(resources={"cpu": "1", "memory": "1Gi", "gpu": 0}), "n", "tq")
    env = {e["name"]: e["value"] for e in cpu_only["spec"]["trainer"]["env"]}
    assert env["NVIDIA_VISIBLE_DEVICES"] == "void"
    assert "nvidia.com/gpu" not in cpu_only["spec"]["trainer"]["resourcesPerNode"]["requests"]


def test_torch_plugin_env_names_are_left_to_the_plugin():
    rec = record(env={"LR": "0.1", "PET_NNODES": "9", "PET_MASTER_ADDR": "x"})
    obj = trainjob.build(rec, "team-alpha", "tq")
    names = {e["name"] for e in obj["spec"]["trainer"]["env"]}
    assert "LR" in names and not names & trainjob.RESERVED_ENV
    bad = trainjob.build(record(), "team-alpha", "tq")
    bad["spec"]["trainer"]["env"].append({"name": "PET_NODE_RANK", "value": "0"})
    assert "PET_NODE_RANK" in "; ".join(trainjob.problems(bad))


def test_labels_and_annotations_reach_jobset_jobs_and_pods():
    obj = trainjob.build(record(job_id=42), "team-alpha", "tq")
    labels = obj["metadata"]["labels"]
    assert labels["trainq.dev/job-id"] == "42" and labels["project"] == "vision"
    assert _patch(obj)["metadata"]["labels"] == labels
    assert _node_job(obj)["metadata"]["labels"] == labels
    assert _pod(obj)["metadata"] == {"labels": labels,
                                     "annotations": {"trainq.dev/sim-run-for": "3s"}}  # fmt: skip


def test_pod_security_goes_through_the_runtime_patch():
    pod = _pod(trainjob.build(record(), "team-alpha", "tq"))["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True,
                                      "seccompProfile": {"type": "RuntimeDefault"}}  # fmt: skip
    [container] = pod["containers"]
    assert container["name"] == "node"
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
    assert sc["capabilities"] == {"drop": ["ALL"]}
    # Only what a runtime patch may set on the trainer's container (env goes via spec.trainer).
    assert set(container) <= {"name", "env", "volumeMounts", "securityContext"}
    assert "env" not in container
    assert not {"hostNetwork", "hostPID", "hostIPC", "volumes", "affinity"} & set(pod)


def test_team_placement_pins_and_checkpoints(config):
    placement = config.team("local").pod_placement()
    claim = CheckpointMount(claim="trainq-checkpoints", path="/checkpoints")
    obj = trainjob.build(record(team="local"), "team-local", "tq", placement,
                         counted=["n1", "n2", "n1"], checkpoints=claim)  # fmt: skip
    pod = _pod(obj)["spec"]
    assert pod["nodeSelector"] == {"trainq.dev/pool": "local"}
    assert pod["tolerations"][0]["key"] == "trainq.dev/local-node"
    assert pod["tolerations"] is not placement["tolerations"]  # a copy: the client may mutate
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
    assert [t["matchFields"][0]["values"] for t in terms["nodeSelectorTerms"]] == [["n1"], ["n2"]]
    assert pod["volumes"] == [
        {"name": "checkpoints", "persistentVolumeClaim": {"claimName": "trainq-checkpoints"}}
    ]
    assert pod["containers"][0]["volumeMounts"] == [
        {"name": "checkpoints", "mountPath": "/checkpoints", "subPath": "tq-7"}]  # fmt: skip
    env = {e["name"]: e["value"] for e in obj["spec"]["trainer"]["env"]}
    assert env["CHECKPOINT_DIR"] == "/checkpoints"


def test_a_team_allowed_root_opts_out_explicitly(config):
    team = config.team("alpha").model_copy(update={"allow_root": True})
    pod = _pod(trainjob.build(record(), "team-alpha", "tq", team.pod_placement()))["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": False,
                                      "seccompProfile": {"type": "RuntimeDefault"}}  # fmt: skip


def test_master_only_job_is_one_node_and_no_deadline_without_one():
    obj = trainjob.build(record(workers=0, max_runtime_seconds=None), "team-alpha", "tq")
    assert obj["spec"]["trainer"]["numNodes"] == 1
    assert "activeDeadlineSeconds" not in obj["spec"]


def test_ownership_helpers_work_on_trainjobs():
    obj = trainjob.build(record(job_id=5), "team-alpha", "tq")
    assert pytorchjob.is_ours(obj, "tq", record(job_id=5))
    assert not pytorchjob.is_ours(obj, "tq", {**record(job_id=5), "uid": "fedcba9876543210"})
    assert pytorchjob.job_id_of(obj, "tq") == 5


def test_longest_names_stay_within_hostname_limits():
    obj = trainjob.build(record(job_id=2**63 - 1, workers=999), "team-alpha", "a" * 20)
    assert trainjob.problems(obj) == []
    too_long = trainjob.build(record(job_id=2**63 - 1, workers=999), "team-alpha", "a" * 33)
    assert any("hostname" in p for p in trainjob.problems(too_long))


def test_pod_selector():
    assert trainjob.pod_selector("tq-5") == "jobset.sigs.k8s.io/jobset-name=tq-5"


def test_suspend_patch():
    assert trainjob.suspend_patch(True) == {"spec": {"suspend": True}}
    assert trainjob.suspend_patch(False) == {"spec": {"suspend": False}}
