import copy

from queue_workers.kube import pytorchjob
from tests.unit.conftest import record


def _container(obj, rtype="Master"):
    return obj["spec"]["pytorchReplicaSpecs"][rtype]["template"]["spec"]["containers"][0]


def test_shape_of_the_pytorchjob():
    obj = pytorchjob.build(record(job_id=42), "team-alpha", "tq")
    assert obj["apiVersion"] == "kubeflow.org/v1" and obj["kind"] == "PyTorchJob"
    assert obj["metadata"]["name"] == "tq-42"
    assert obj["metadata"]["namespace"] == "team-alpha"
    assert obj["metadata"]["labels"] == {
        "project": "vision",
        "app.kubernetes.io/managed-by": "trainq",
        "trainq.dev/instance": "tq",
        "trainq.dev/team": "alpha",
        "trainq.dev/job-id": "42",
    }
    specs = obj["spec"]["pytorchReplicaSpecs"]
    assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] == 2
    assert specs["Master"]["restartPolicy"] == "OnFailure"
    assert obj["spec"]["runPolicy"] == {"activeDeadlineSeconds": 3600, "backoffLimit": 2}
    assert pytorchjob.webhook_problems(obj) == []


def test_container_env_resources_and_security():
    obj = pytorchjob.build(record(job_id=42), "team-alpha", "tq")
    for rtype in ("Master", "Worker"):
        c = _container(obj, rtype)
        assert c["name"] == "pytorch"
        assert c["image"] == "docker.io/library/busybox:1.36"
        assert c["command"] == ["python", "train.py"] and c["args"] == ["--epochs", "3"]
        env = {e["name"]: e["value"] for e in c["env"]}
        assert env == {
            "BATCH": "64",
            "LR": "0.1",
            "TRAINQ_JOB_ID": "42",
            "TRAINQ_TEAM": "alpha",
            "JOB_ID": "42",
            "TRAINING_DATASET_ID": "imdb",
            "TRAINING_DATASET_VERSION_HASH": "hash-1",
        }
        amounts = {"cpu": "2", "memory": "4Gi", "nvidia.com/gpu": "1"}
        assert c["resources"] == {"requests": amounts, "limits": amounts}
        sc = c["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        template = obj["spec"]["pytorchReplicaSpecs"][rtype]["template"]
        assert template["metadata"]["annotations"] == {"trainq.dev/sim-run-for": "3s"}
        assert template["metadata"]["labels"]["trainq.dev/job-id"] == "42"
        pod = template["spec"]
        assert pod["automountServiceAccountToken"] is False
        # Nothing of the host is reachable from the pod spec.
        assert not {"hostNetwork", "hostPID", "hostIPC", "volumes"} & set(pod)


def test_master_only_job_has_no_worker_spec_and_no_gpu_without_request():
    rec = record(workers=0, resources={"cpu": "1", "memory": "1Gi", "gpu": 0}, dataset=None)
    obj = pytorchjob.build(rec, "team-beta", "tq")
    assert list(obj["spec"]["pytorchReplicaSpecs"]) == ["Master"]
    c = _container(obj)
    assert "nvidia.com/gpu" not in c["resources"]["requests"]
    assert "TRAINING_DATASET_ID" not in {e["name"] for e in c["env"]}


def test_longest_names_stay_within_pod_name_limits():
    rec = record(job_id=2**63 - 1, workers=999)
    obj = pytorchjob.build(rec, "team-alpha", "a" * 20)
    assert pytorchjob.webhook_problems(obj) == []
    assert len(f"{obj['metadata']['name']}-worker-998") <= 63


def test_webhook_checks_catch_what_the_operator_webhook_would():
    obj = pytorchjob.build(record(), "team-alpha", "tq")
    bad = copy.deepcopy(obj)
    bad["spec"]["pytorchReplicaSpecs"]["Master"]["replicas"] = 2
    _container(bad)["name"] = "main"
    bad["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] = 0
    bad["spec"]["pytorchReplicaSpecs"]["Chief"] = copy.deepcopy(
        bad["spec"]["pytorchReplicaSpecs"]["Master"]
    )
    problems = "; ".join(pytorchjob.webhook_problems(bad))
    assert "Master replicas must be exactly 1" in problems
    assert "Master: no container named 'pytorch'" in problems
    assert "Worker replicas must be at least 1" in problems
    assert "replica types must be Master or Worker" in problems


def test_ownership_checks():
    obj = pytorchjob.build(record(job_id=5), "team-alpha", "tq")
    assert obj["metadata"]["annotations"] == {
        "trainq.dev/job-name": "resnet",
        "trainq.dev/job-uid": "0123456789abcdef",
    }
    assert pytorchjob.is_ours(obj, "tq", record(job_id=5))
    assert not pytorchjob.is_ours(obj, "tq", record(job_id=6))
    assert not pytorchjob.is_ours(obj, "other", record(job_id=5))
    assert not pytorchjob.is_ours(obj, "tq", record(job_id=5, team="beta"))
    # Same id, team and instance, but made for an earlier job (Redis was wiped): not ours.
    assert not pytorchjob.is_ours(obj, "tq", {**record(job_id=5), "uid": "fedcba9876543210"})
    assert pytorchjob.job_id_of(obj, "tq") == 5
    assert pytorchjob.job_id_of(obj, "other") is None
    assert pytorchjob.selector("tq") == "app.kubernetes.io/managed-by=trainq,trainq.dev/instance=tq"


def test_team_placement_goes_into_every_pod_template(config):
    placement = config.team("local").pod_placement()
    obj = pytorchjob.build(record(team="local"), "team-local", "tq", placement)
    for rtype in ("Master", "Worker"):
        pod = obj["spec"]["pytorchReplicaSpecs"][rtype]["template"]["spec"]
        assert pod["nodeSelector"] == {"trainq.dev/pool": "local"}
        assert pod["tolerations"] == [
            {"key": "trainq.dev/local-node", "operator": "Equal", "value": "true",
             "effect": "NoSchedule"}
        ]  # fmt: skip
    # Each template has its own copy: the client may mutate one without touching the other.
    specs = obj["spec"]["pytorchReplicaSpecs"]
    assert specs["Master"]["template"]["spec"]["tolerations"] is not placement["tolerations"]
    assert (
        specs["Master"]["template"]["spec"]["nodeSelector"]
        is not specs["Worker"]["template"]["spec"]["nodeSelector"]
    )
    # No pool: no placement fields at all.
    plain = pytorchjob.build(record(), "team-alpha", "tq", config.team("alpha").pod_placement())
    pod = plain["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    assert not {"nodeSelector", "tolerations"} & set(pod)


def _envs(obj) -> list[dict[str, str]]:
    """Every container's env as a dict, after checking no name appears twice."""
    out = []
    for rspec in obj["spec"]["pytorchReplicaSpecs"].values():
        env = rspec["template"]["spec"]["containers"][0]["env"]
        names = [e["name"] for e in env]
        assert len(names) == len(set(names)), names
        out.append({e["name"]: e["value"] for e in env})
    return out


def test_replicas_without_gpus_see_no_gpus():
    """The NVIDIA runtime would otherwise honour an image's NVIDIA_VISIBLE_DEVICES=all."""
    cpu_only = record(resources={"cpu": "2", "memory": "4Gi", "gpu": 0})
    envs = _envs(pytorchjob.build(cpu_only, "team-alpha", "tq"))
    assert len(envs) == 2
    assert all(env["NVIDIA_VISIBLE_DEVICES"] == "void" for env in envs)
    # A GPU replica's devices are the device plugin's to set.
    gpu = pytorchjob.build(record(), "team-alpha", "tq")
    assert not any("NVIDIA_VISIBLE_DEVICES" in env for env in _envs(gpu))


def test_nvidia_variables_of_a_record_never_reach_a_pod():
    """Refused at submission; a record from before that rule (or a tampered one) is filtered."""
    env = {"LR": "0.1", "NVIDIA_VISIBLE_DEVICES": "all", "NVIDIA_DRIVER_CAPABILITIES": "all"}
    for gpu in (0, 1):
        rec = record(env=env, resources={"cpu": "1", "memory": "1Gi", "gpu": gpu})
        for container_env in _envs(pytorchjob.build(rec, "team-alpha", "tq")):
            nvidia = {k: v for k, v in container_env.items() if k.startswith("NVIDIA_")}
            assert nvidia == ({"NVIDIA_VISIBLE_DEVICES": "void"} if gpu == 0 else {})
            assert container_env["LR"] == "0.1"


def _pod_security(obj) -> list[dict]:
    return [r["template"]["spec"]["securityContext"]
            for r in obj["spec"]["pytorchReplicaSpecs"].values()]  # fmt: skip


RUNTIME_DEFAULT = {"type": "RuntimeDefault"}


def test_pods_run_as_non_root_by_default(config):
    want = [{"runAsNonRoot": True, "seccompProfile": RUNTIME_DEFAULT}] * 2
    for team in ("alpha", "local"):
        placement = config.team(team).pod_placement()
        obj = pytorchjob.build(record(team=team), f"team-{team}", "tq", placement)
        assert _pod_security(obj) == want
    assert _pod_security(pytorchjob.build(record(), "team-alpha", "tq")) == want


def test_a_team_allowed_root_opts_out_explicitly(config):
    team = config.team("alpha").model_copy(update={"allow_root": True})
    placement = team.pod_placement()
    obj = pytorchjob.build(record(), "team-alpha", "tq", placement)
    # Only runAsNonRoot changes: the pod keeps its seccomp profile.
    assert _pod_security(obj) == [{"runAsNonRoot": False, "seccompProfile": RUNTIME_DEFAULT}] * 2
    assert placement["securityContext"] == {"runAsNonRoot": False}  # the team's, untouched
    # The container-level restrictions stay.
    assert _container(obj)["securityContext"]["allowPrivilegeEscalation"] is False


def test_job_ids_of_labels_are_ascii_digits_only():
    obj = pytorchjob.build(record(job_id=5), "team-alpha", "tq")
    for raw in ("²", "\u0661", "5\n", "", "-5"):
        obj["metadata"]["labels"]["trainq.dev/job-id"] = raw
        assert pytorchjob.job_id_of(obj, "tq") is None


def test_the_peers_policy_selects_the_job_s_pods_and_is_owned_by_its_pytorchjob():
    from queue_workers.kube.peers import peer_policy

    obj = {"metadata": {"name": "tq-7", "namespace": "team-alpha", "uid": "u-1"}}
    policy = peer_policy(obj, "tq", 7)
    assert policy["metadata"]["name"] == "tq-7-peers"
    assert policy["metadata"]["namespace"] == "team-alpha"
    (owner,) = policy["metadata"]["ownerReferences"]
    assert owner == {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "name": "tq-7",
                     "uid": "u-1"}  # fmt: skip
    built = pytorchjob.build(record(), "team-alpha", "tq")
    pod_labels = built["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["metadata"]["labels"]
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= pod_labels.items()  # it selects the job's own pods
    assert policy["spec"]["egress"] == [{"to": [{"podSelector": {"matchLabels": selector}}]}]
    assert peer_policy(obj, "tq", 8)["spec"]["podSelector"] != policy["spec"]["podSelector"]


def test_a_checkpoint_claim_is_mounted_in_every_replica_at_one_directory_per_job():
    mount = pytorchjob.CheckpointMount("team-ckpt", "/checkpoints")
    rec = record(job_id=42, env={"LR": "0.1", "CHECKPOINT_DIR": "/from-an-old-record"})
    obj = pytorchjob.build(rec, "team-alpha", "tq", checkpoints=mount)
    for rtype, env in zip(("Master", "Worker"), _envs(obj), strict=True):
        pod = obj["spec"]["pytorchReplicaSpecs"][rtype]["template"]["spec"]
        assert pod["volumes"] == [
            {"name": "checkpoints", "persistentVolumeClaim": {"claimName": "team-ckpt"}}
        ]
        assert pod["containers"][0]["volumeMounts"] == [
            {"name": "checkpoints", "mountPath": "/checkpoints", "subPath": "tq-42"}
        ]
        # Ours wins over a record's (refused at submission for such a team).
        assert env["CHECKPOINT_DIR"] == "/checkpoints" and env["LR"] == "0.1"
    assert pytorchjob.webhook_problems(obj) == []
    # The directory follows the PyTorchJob's name: another job, another directory.
    other = pytorchjob.build(record(job_id=43), "team-alpha", "tq", checkpoints=mount)
    assert _container(other)["volumeMounts"][0]["subPath"] == "tq-43"


def test_without_a_claim_nothing_changes():
    rec = record(env={"LR": "0.1", "CHECKPOINT_DIR": "/mine"})
    obj = pytorchjob.build(rec, "team-alpha", "tq")
    for rspec in obj["spec"]["pytorchReplicaSpecs"].values():
        assert "volumes" not in rspec["template"]["spec"]
        assert "volumeMounts" not in rspec["template"]["spec"]["containers"][0]
    assert all(env["CHECKPOINT_DIR"] == "/mine" for env in _envs(obj))
