"""Real training end to end: a job submitted through trainq's HTTP API for team `local` (pinned
to the node agent's node by the team's node_selector and tolerations) becomes a PyTorchJob that
the real Kubeflow operator expands into a master and a worker pod, which the node agent runs as
real processes: `python -m trainers.intent_classification` rendezvouses over gloo and trains the
model with DDP. trainq must report `succeeded`, and the trainer's outputs must check out.

The local node has this machine's CPUs (2), so replicas request little; only this test uses it.
"""

import hashlib
import importlib.util
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from kubernetes import client

from tests.support import REPO
from tests.support.stack import unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

LOCAL_NODE = "trainq-local-node"
# Team local's checkpoint claim (k8s/local/trainq.yaml), bound by `make cluster-up`.
CHECKPOINT_CLAIM = ("team-local", "trainq-checkpoints")


def claim_directory(core: client.CoreV1Api) -> Path:
    """The host directory of team local's checkpoint claim (its hostPath volume's)."""
    namespace, claim = CHECKPOINT_CLAIM
    pvc = core.read_namespaced_persistent_volume_claim(claim, namespace)
    assert pvc.status.phase == "Bound", "run `make cluster-up` (it binds the checkpoint claim)"
    return Path(core.read_persistent_volume(pvc.spec.volume_name).spec.host_path.path)


def _load_demo():
    # k8s/local is not a package: load the demo script as a module to reuse its job body.
    spec = importlib.util.spec_from_file_location("trainq_demo", REPO / "k8s/local/demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def training_body(name: str, out: Path) -> dict:
    """Exactly the body `make demo` submits."""
    return _load_demo().real_job(out, name)


def assert_local_node_ready(kube_api) -> None:
    node = client.CoreV1Api(kube_api).read_node(LOCAL_NODE)
    ready = {c.type: c.status for c in node.status.conditions or []}.get("Ready")
    assert ready == "True", (
        f"{LOCAL_NODE} is not Ready: run `make cluster-up` (it starts the agent)"
    )


def test_real_ddp_training_through_the_api(
    stack, tmp_path, kube_api, kubeconfig, kubectl_bin, request
):
    assert_local_node_ready(kube_api)
    api = stack.api
    body = training_body(unique("train"), tmp_path)
    epochs = int(body["env"]["EPOCHS"])
    rec = api.submit_ok("local", body)
    checkpoints = claim_directory(client.CoreV1Api(kube_api)) / f"{stack.instance}-{rec['id']}"
    request.addfinalizer(lambda: shutil.rmtree(checkpoints, ignore_errors=True))
    seen = []

    def finished():
        current = api.record("local", rec["id"])
        if not seen or seen[-1] != current["status"]:
            seen.append(current["status"])
        return current if current["status"] in ("succeeded", "failed", "cancelled") else None

    final = wait_until(f"job {rec['id']} to finish", finished, timeout=600, interval=0.5)
    ref = final["pytorchjob"]
    pods = (
        client.CoreV1Api(kube_api)
        .list_namespaced_pod(
            "team-local",
            label_selector=f"trainq.dev/job-id={rec['id']},trainq.dev/instance={stack.instance}",
        )
        .items
    )
    master_pod = f"{ref['name']}-master-0"
    assert final["status"] == "succeeded", (seen, final, _logs(kubectl_bin, kubeconfig, master_pod))
    assert "running" in seen, seen
    # The operator marks the job Succeeded when the Master does; a Worker that exits a moment
    # later may not be counted, so only its presence is certain.
    assert final["replicas"]["Master"]["succeeded"] == 1, final["replicas"]
    assert "Worker" in final["replicas"], final["replicas"]
    assert final["reason"] == "PyTorchJobSucceeded"

    # The team's pool: both pods were placed on the node agent's node, and ran there.
    by_type = {p.metadata.labels.get("training.kubeflow.org/replica-type"): p for p in pods}
    assert set(by_type) == {"master", "worker"}, [p.metadata.name for p in pods]
    assert {p.spec.node_name for p in pods} == {LOCAL_NODE}
    assert by_type["master"].spec.node_selector == {"trainq.dev/pool": "local"}

    # The trainer's outputs: complete, and the manifest vouches for the weights file.
    model = tmp_path / "model"
    manifest = json.loads((model / "manifest.json").read_text())
    weights = model / manifest["weights"]["file"]
    assert weights.name == "model.safetensors" and (model / "vocab.json").is_file()
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == manifest["weights"]["sha256"]
    assert manifest["metrics"]["test_accuracy"] >= 0.85, manifest["metrics"]
    assert manifest["distributed"]["world_size"] == 2
    assert manifest["distributed"]["backend"] == "gloo"
    assert manifest["job_id"] == str(rec["id"])
    assert manifest["dataset"]["id"] == "intents-bundled"
    metrics = [json.loads(line) for line in (model / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == list(range(1, epochs + 1))

    # `kubectl logs` reaches the master's log through the node agent's kubelet endpoint.
    log = _logs(kubectl_bin, kubeconfig, master_pod)
    for epoch in range(1, epochs + 1):
        assert f"epoch {epoch}/{epochs} train_loss=" in log, log
    assert "rank 0 of 2 joined" in log
    assert f"done: test_accuracy={manifest['metrics']['test_accuracy']:.4f}" in log, log
    assert f"weights_sha256={manifest['weights']['sha256']}" in log


def _logs(kubectl_bin: str, kubeconfig: str, pod: str) -> str:
    proc = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "logs", "-n", "team-local", pod, "-c", "pytorch"],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return proc.stdout + proc.stderr
