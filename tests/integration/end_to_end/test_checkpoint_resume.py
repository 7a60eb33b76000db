"""A real training job suspended mid-training and resumed, end to end: team `local` has a
checkpoint claim (`make cluster-up` binds it to a hostPath volume under .local/volumes), so
trainq mounts it in both replicas, one directory per PyTorchJob, with CHECKPOINT_DIR naming it.
Suspended through the API, the job's pods get SIGTERM from the node agent; both ranks stop at
the same step, the master writes a mid-epoch checkpoint into the claim's directory on this host,
and they exit on their own long before the grace period ends (SIGKILL). Resumed, the same
PyTorchJob's new pods continue from that step, and the final weights are bit-identical to an
uninterrupted run's.

The pods run on a node agent of the test's own (running the code under test, on a pool only
this test's team `local` selects) beside the cluster's; the claim is the cluster's own."""

import re
import shutil
import time

import pytest
from kubernetes import client

from tests.integration.end_to_end.test_real_training import (
    CHECKPOINT_CLAIM,
    claim_directory,
    training_body,
)
from tests.support import wait_until
from tests.support.nodeagent import pinned_local_stack
from tests.support.stack import unique
from tests.trainers.helpers import run_ranks

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

NAMESPACE = CHECKPOINT_CLAIM[0]
# One-utterance batches: an epoch is hundreds of steps (about 2 s on 2 cores), so SIGTERM lands
# mid-epoch, and 4 epochs leave time to suspend after the first checkpoint.
TRAINING = {"EPOCHS": "4", "BATCH_SIZE": "1"}
GRACE = 20


@pytest.fixture
def local_stack(tmp_path, kubeconfig, kube_api, private_redis):
    """A stack whose team `local` is pinned to a node agent of this test's own."""
    # Preemptible at once: the 4 epochs take ~3 s on a fast machine, under the local config's
    # 5 s minimum run (tested in admission/test_preemption.py).
    local = {"preemption": {"within_team": "LowerPriority", "min_runtime_seconds": 0}}
    with pinned_local_stack(
        tmp_path,
        kubeconfig,
        client.CoreV1Api(kube_api),
        private_redis.url,
        "ckpt",
        local,
        dispatch={"termination_grace_seconds": GRACE},
    ) as both:
        yield both


def pod_logs(agent, pod: str) -> list[str]:
    """Every run of the pod on the agent's node, oldest first (logs outlive the pods)."""
    dirs = sorted((agent.state_dir / "logs").glob(f"{NAMESPACE}_{pod}_*"),
                  key=lambda d: d.stat().st_mtime)  # fmt: skip
    return [(d / "pytorch.log").read_text() for d in dirs]


def start_training(stack, core, tmp_path, request, prefix: str):
    """Submit the training job for team local and wait for its first checkpoint on the claim:
    (body, job id, PyTorchJob name, the checkpoint's path on this host)."""
    body = training_body(unique(prefix), tmp_path / "out")
    body["env"].update(TRAINING)
    job_id = stack.api.submit_ok("local", body)["id"]
    name = f"{stack.instance}-{job_id}"
    saved = claim_directory(core) / name / "checkpoint.pt"
    request.addfinalizer(lambda: shutil.rmtree(saved.parent, ignore_errors=True))
    wait_until("the first epoch's checkpoint on the claim", saved.exists, timeout=180,
               interval=0.1)  # fmt: skip
    return body, job_id, name, saved


def test_a_suspended_job_checkpoints_on_sigterm_and_resumes_bit_identical(
    local_stack, kube_api, tmp_path, request
):
    stack, agent = local_stack
    core = client.CoreV1Api(kube_api)
    body, job_id, name, saved = start_training(stack, core, tmp_path, request, "ckpt")

    suspended_at = time.monotonic()
    response = stack.api.act("local", job_id, "suspend")
    assert response.status_code == 202, response.text
    selector = f"trainq.dev/job-id={job_id},trainq.dev/instance={stack.instance}"
    wait_until("the pods to be gone", lambda: not core.list_namespaced_pod(
        NAMESPACE, label_selector=selector).items, timeout=GRACE + 30)  # fmt: skip
    # Gone long before SIGKILL was due: the trainers exited on their own, checkpoint written.
    assert time.monotonic() - suspended_at < GRACE / 2
    (master,) = pod_logs(agent, f"{name}-master-0")
    (worker,) = pod_logs(agent, f"{name}-worker-0")
    stopped = re.search(r"SIGTERM: stopped at step (\d+) of epoch (\d)/4; checkpoint written "
                        r"to (\S+)$", master, re.M)  # fmt: skip
    assert stopped and stopped.group(3) == str(saved), master  # on this host, in the claim
    step, epoch = int(stopped.group(1)), int(stopped.group(2))
    assert 2 <= epoch <= 4 and "done:" not in master, master
    # The worker stopped after the very same step (whichever rank's signal came first).
    assert f"SIGTERM: rank 1 stopped at step {step} of epoch {epoch}/4" in worker, worker
    assert stack.api.record("local", job_id)["status"] == "suspended"

    # The uninterrupted reference, while the job holds nothing: the same training, 2 processes.
    env = {**body["env"], "MODEL_DIR": str(tmp_path / "ref" / "model"),
           "CHECKPOINT_DIR": str(tmp_path / "ref" / "checkpoints")}  # fmt: skip
    reference = run_ranks(2, **env)
    assert all(r.returncode == 0 for r in reference), reference[0].stderr[-2000:]
    expected = re.search(r"weights_sha256=([0-9a-f]{64})", reference[0].stdout).group(1)

    assert stack.api.act("local", job_id, "resume").status_code == 202
    final = stack.api.wait_status("local", job_id, {"succeeded", "failed"}, timeout=180)
    masters = pod_logs(agent, f"{name}-master-0")
    assert final["status"] == "succeeded", (final, masters[-1][-3000:])
    assert final["suspensions"] == 1
    resumed = masters[-1]
    within = f", step {step} of the next" if step else ""
    assert f"resumed from checkpoint at epoch {epoch - 1}/4{within} ({saved})" in resumed, resumed
    assert f"weights_sha256={expected}" in resumed, (expected, resumed[-2000:])


def test_a_job_preempted_by_a_higher_priority_one_resumes_bit_identical(
    local_stack, kube_api, tmp_path, request
):
    """Team local may preempt its own lower-priority jobs (within_team: LowerPriority in the
    local config). A priority-10 job that cannot run beside the training job (the node's cpus,
    or the team's 4-cpu quota on a bigger machine) preempts it mid-training; the trainer
    checkpoints on SIGTERM, the urgent job runs, and the first resumes on its same PyTorchJob
    and ends with the uninterrupted run's weights."""
    stack, agent = local_stack
    core = client.CoreV1Api(kube_api)
    body, job_id, name, _ = start_training(stack, core, tmp_path, request, "victim")
    (uid,) = [o["metadata"]["uid"] for o in stack.pytorchjobs(NAMESPACE, job_id)]

    node_cpu = int(float(core.read_node(agent.node).status.allocatable["cpu"]) * 1000)
    each = (min(node_cpu, 4000) - 1000 + 200) // 2  # fits alone, not beside the 1-cpu job
    urgent = training_body(unique("urgent"), tmp_path / "urgent")
    urgent["env"].update({"EPOCHS": "1"})
    urgent.update(priority=10, resources={"cpu": f"{each}m", "memory": "1Gi"})
    urgent_id = stack.api.submit_ok("local", urgent)["id"]
    request.addfinalizer(lambda: shutil.rmtree(claim_directory(core) / f"{stack.instance}-"
                                               f"{urgent_id}", ignore_errors=True))  # fmt: skip

    def preempted():
        rec = stack.api.record("local", job_id)
        return rec if rec["preemptions"] == 1 else None

    rec = wait_until("the training job to be preempted", preempted, timeout=60)
    (cond,) = [c for c in rec["conditions"] if c["type"] == "Preempted"]
    assert cond["reason"] == "WithinTeamPriority" and f"job {urgent_id}" in cond["message"]
    assert stack.api.wait_status("local", urgent_id, {"succeeded", "failed"}, 180)["status"] == \
        "succeeded"  # fmt: skip
    final = stack.api.wait_status("local", job_id, {"succeeded", "failed"}, timeout=180)
    masters = pod_logs(agent, f"{name}-master-0")
    assert final["status"] == "succeeded", (final, masters[-1][-3000:])
    assert final["preemptions"] == 1 and final["run_seconds"] > 0
    stopped = re.search(r"SIGTERM: stopped at step (\d+) of epoch (\d)/4", masters[0], re.M)
    assert stopped, masters[0][-2000:]
    assert "resumed from checkpoint" in masters[-1], masters[-1][-2000:]
    (after,) = stack.pytorchjobs(NAMESPACE, job_id)
    assert after["metadata"]["uid"] == uid  # the same PyTorchJob, resumed

    env = {**body["env"], "MODEL_DIR": str(tmp_path / "ref" / "model"),
           "CHECKPOINT_DIR": str(tmp_path / "ref" / "checkpoints")}  # fmt: skip
    reference = run_ranks(2, **env)
    assert all(r.returncode == 0 for r in reference), reference[0].stderr[-2000:]
    expected = re.search(r"weights_sha256=([0-9a-f]{64})", reference[0].stdout).group(1)
    assert f"weights_sha256={expected}" in masters[-1], (expected, masters[-1][-2000:])
