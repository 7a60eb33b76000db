"""Real training end to end, on each backend: a job submitted through trainq's HTTP API for team
`local` (pinned to the node agent's node by the team's node_selector and tolerations) becomes a
PyTorchJob that the real Kubeflow operator expands into a master and a worker pod, or a Trainer
v2 TrainJob whose JobSet runs two `node` pods (node 0 the Master), which the node agent runs as
real processes: `python -m trainers.intent_classification` rendezvouses over gloo (from the
operator's MASTER_ADDR/RANK env, or Trainer v2's PET_* env) and trains the model with DDP.
trainq must report `succeeded`, the trainer's outputs must check out, and the weights must be
the same bytes on both backends (same body, same seed).

The local node has this machine's CPUs (2), so replicas request little; only this test uses it.
The TrainJob case is skipped where Trainer v2 does not run (tests/support/trainer_v2.py).
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
# Per backend, what its run looks like: the record's reason on success, the pod label that
# names each pod's role (its value for the Master), and the trainer's container.
RUNS = {
    "pytorchjob": ("PyTorchJobSucceeded", "training.kubeflow.org/replica-type", "master",
                   "pytorch"),
    "trainjob": ("AllJobsCompleted", "batch.kubernetes.io/job-completion-index", "0", "node"),
}  # fmt: skip
# The weights' sha256 each backend's run produced (both cases run in one process: --dist
# loadfile), so the second run checks it trained the same model as the first.
WEIGHTS: dict[str, str] = {}
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
    any_stack, tmp_path, kube_api, kubeconfig, kubectl_bin, request
):
    assert_local_node_ready(kube_api)
    stack = any_stack
    backend = stack.backend.name
    reason, role_label, master_role, container = RUNS[backend]
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
    ref = final["pytorchjob"]  # the workload's ref, of either kind
    pods = stack.pods("team-local", ref["name"])
    by_role = {p["metadata"]["labels"].get(role_label): p for p in pods}
    master = by_role.get(master_role)
    master_pod = master["metadata"]["name"] if master else f"{ref['name']}-master-0"
    master_log = _logs(kubectl_bin, kubeconfig, master_pod, container)
    assert final["status"] == "succeeded", (seen, final, master_log)
    assert final["backend"] == backend, final
    assert "running" in seen, seen
    # The operator marks the job Succeeded when the Master does; a Worker that exits a moment
    # later may not be counted, so only its presence is certain.
    assert final["replicas"]["Master"]["succeeded"] == 1, final["replicas"]
    assert "Worker" in final["replicas"], final["replicas"]
    assert final["reason"] == reason

    # The team's pool: both pods (this job's, with trainq's labels) were placed on the node
    # agent's node, and ran there.
    assert len(pods) == 2 and master, [p["metadata"]["name"] for p in pods]
    for pod in pods:
        labels = pod["metadata"]["labels"]
        assert labels["trainq.dev/job-id"] == str(rec["id"]), labels
        assert labels["trainq.dev/instance"] == stack.instance, labels
    assert {p["spec"]["nodeName"] for p in pods} == {LOCAL_NODE}
    assert master["spec"]["nodeSelector"] == {"trainq.dev/pool": "local"}

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
    log = master_log
    for epoch in range(1, epochs + 1):
        assert f"epoch {epoch}/{epochs} train_loss=" in log, log
    assert "rank 0 of 2 joined" in log
    assert f"done: test_accuracy={manifest['metrics']['test_accuracy']:.4f}" in log, log
    assert f"weights_sha256={manifest['weights']['sha256']}" in log

    # trainq's logs endpoint finds each replica's pod: by name, or a TrainJob's by its node
    # index (JobSet's pod names end in a random suffix).
    for replica, rank in (("Master", 0), ("Worker", 1)):
        served = api.http.get(
            f"{api.base}/v1/teams/local/jobs/{rec['id']}/logs",
            params={"replica": replica},
            headers=api._h("local"),
            timeout=30,
        )
        assert served.status_code == 200, served.text
        assert f"rank {rank} of 2 joined" in served.text, served.text

    # Same body, same seed: the same weights, whichever backend ran them.
    WEIGHTS[backend] = manifest["weights"]["sha256"]
    assert len(set(WEIGHTS.values())) == 1, f"weights differ between backends: {WEIGHTS}"


def _logs(kubectl_bin: str, kubeconfig: str, pod: str, container: str) -> str:
    proc = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "logs", "-n", "team-local", pod,
         "-c", container],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    return proc.stdout + proc.stderr
