"""End to end through the real processes (gunicorn API, two RQ workers, the watcher), real
Redis and the real control plane, on each backend: PyTorchJobs through the Kubeflow training
operator, and TrainJobs through Kubeflow Trainer v2 and JobSet (`any_stack`)."""

import json
import subprocess

import pytest
from kubeflow.common.types import KubernetesBackendConfig
from kubeflow.trainer import TrainerClient
from kubeflow.training import TrainingClient

from tests.support.stack import job_body, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def follow(api, team, job_id, timeout=90):
    """Poll the record until it finishes; returns (every distinct status seen, the records)."""
    seen, records = [], []

    def finished():
        rec = api.record(team, job_id)
        records.append(rec)
        if not seen or seen[-1] != rec["status"]:
            seen.append(rec["status"])
        return rec["status"] in ("succeeded", "failed", "cancelled")

    wait_until(f"job {job_id} to finish", finished, timeout, interval=0.1)
    return seen, records


def test_job_runs_to_succeeded_with_replica_counts(any_stack, kubeconfig, kubectl_bin):
    stack = any_stack
    api = stack.api
    body = job_body(unique("life"), workers=2, annotations={"trainq.dev/sim-run-for": "4s"},
                    env={"LR": "0.1"}, dataset={"id": "imdb", "version_hash": "h1"})  # fmt: skip
    rec = api.submit_ok("alpha", body)
    seen, records = follow(api, "alpha", rec["id"])
    assert seen[0] in ("queued", "dispatching", "created", "running")
    assert "running" in seen and seen[-1] == "succeeded", seen
    running = [r for r in records if r["status"] == "running"]
    assert any(
        r["replicas"]["Master"]["active"] == 1 and r["replicas"]["Worker"]["active"] == 2
        for r in running
    ), [r["replicas"] for r in running]
    final = records[-1]
    assert final["replicas"]["Master"]["succeeded"] == 1
    assert final["started_at"] and final["finished_at"] and final["admitted_at"]
    assert final["backend"] == stack.backend.name
    ref = final["pytorchjob"]
    assert ref == {"namespace": "team-alpha", "name": f"{stack.instance}-{rec['id']}"}

    # The workload as created: trainq's labels, one Master + 2 Workers, the job's env.
    (obj,) = stack.pytorchjobs("team-alpha", rec["id"])
    labels = obj["metadata"]["labels"]
    assert labels["trainq.dev/team"] == "alpha" and labels["trainq.dev/job-id"] == str(rec["id"])
    assert labels["app.kubernetes.io/managed-by"] == "trainq"
    if stack.backend.name == "pytorchjob":
        _check_pytorchjob(final, obj, kubeconfig)
    else:
        _check_trainjob(final, obj, kubeconfig)

    # kubectl finds it by team label.
    out = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "get", stack.backend.plural, "-n",
         "team-alpha", "-l", "trainq.dev/team=alpha", "-o", "json"],
        capture_output=True, text=True, check=True, timeout=30,
    ).stdout  # fmt: skip
    assert ref["name"] in {i["metadata"]["name"] for i in json.loads(out)["items"]}


def _check_pytorchjob(final: dict, obj: dict, kubeconfig: str) -> None:
    assert final["reason"] == "PyTorchJobSucceeded"
    assert {"Created", "Running", "Succeeded"} <= {c["type"] for c in final["conditions"]}
    specs = obj["spec"]["pytorchReplicaSpecs"]
    assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] == 2
    container = specs["Worker"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert container["name"] == "pytorch"
    assert env["LR"] == "0.1" and env["TRAINQ_JOB_ID"] == env["JOB_ID"] == str(final["id"])
    assert env["TRAINQ_TEAM"] == "alpha" and env["TRAINING_DATASET_ID"] == "imdb"

    # It reads back cleanly through the kubeflow-training SDK.
    ref = final["pytorchjob"]
    sdk_job = TrainingClient(config_file=kubeconfig).get_job(ref["name"], ref["namespace"])
    assert sdk_job.metadata.name == ref["name"]
    assert sdk_job.spec.pytorch_replica_specs["Master"].replicas == 1
    assert sdk_job.spec.pytorch_replica_specs["Worker"].template.spec.containers[0].name == (
        "pytorch"
    )
    assert sdk_job.status.replica_statuses["Master"].succeeded == 1
    assert any(c.type == "Succeeded" and c.status == "True" for c in sdk_job.status.conditions)


def _check_trainjob(final: dict, obj: dict, kubeconfig: str) -> None:
    complete = next(c for c in obj["status"]["conditions"] if c["type"] == "Complete")
    assert final["reason"] == complete["reason"] and final["message"] == complete["message"]
    trainer = obj["spec"]["trainer"]
    assert trainer["numNodes"] == 3 and trainer["numProcPerNode"] == 1
    env = {e["name"]: e["value"] for e in trainer["env"]}
    assert env["LR"] == "0.1" and env["TRAINQ_JOB_ID"] == env["JOB_ID"] == str(final["id"])
    assert env["TRAINQ_TEAM"] == "alpha" and env["TRAINING_DATASET_ID"] == "imdb"

    # It reads back through the Kubeflow SDK for Trainer v2 (`kubeflow` package).
    ref = final["pytorchjob"]
    sdk = TrainerClient(KubernetesBackendConfig(namespace=ref["namespace"],
                                                config_file=kubeconfig))  # fmt: skip
    job = sdk.get_job(ref["name"])
    assert job.name == ref["name"] and job.num_nodes == 3
    assert job.status == "Complete"
    assert job.runtime.name == obj["spec"]["runtimeRef"]["name"]
    assert ref["name"] in {j.name for j in sdk.list_jobs()}


@pytest.mark.parametrize(
    ("policy", "annotations"),
    [
        ("Never", {"trainq.dev/sim-outcome": "fail"}),
        ("ExitCode", {"trainq.dev/sim-outcome": "fail", "trainq.dev/sim-exit-code": "3"}),
    ],
)
def test_failing_job_fails_with_the_operator_message(any_stack, policy, annotations):
    stack = any_stack
    api = stack.api
    body = job_body(unique("fail"), workers=1, annotations=annotations, restart_policy=policy,
                    backoff_limit=0)  # fmt: skip
    rec = api.submit_ok("alpha", body)
    final = api.wait_status("alpha", rec["id"], {"failed", "succeeded", "cancelled"}, 90)
    assert final["status"] == "failed", final
    (obj,) = stack.pytorchjobs("team-alpha", rec["id"])
    failed = next(c for c in obj["status"]["conditions"] if c["type"] == "Failed")
    assert final["reason"] == failed["reason"]
    if stack.backend.name == "pytorchjob":
        assert final["reason"] == "PyTorchJobFailed"
    assert final["message"] == failed["message"] and final["message"]
    assert final["finished_at"]


def test_cancel_while_running(any_stack):
    stack = any_stack
    api = stack.api
    rec = api.submit_ok("alpha", job_body(unique("cxl"), annotations={
        "trainq.dev/sim-run-for": "120s"}))  # fmt: skip

    def running_with_pods():
        r = api.record("alpha", rec["id"])
        return r["status"] == "running" and r["replicas"]["Master"]["active"] == 1

    wait_until("the job to run", running_with_pods, 60)
    assert api.queue("alpha").json()["running"] >= 1
    response = api.cancel("alpha", rec["id"])
    assert response.status_code == 202 and response.json()["status"] in ("cancelling", "cancelled")
    final = api.wait_status("alpha", rec["id"], "cancelled", 60)
    assert final["reason"] == "Cancelled" and final["message"] == "cancelled by team alpha"
    assert stack.pytorchjobs("team-alpha", rec["id"]) == []
    assert api.cancel("alpha", rec["id"]).status_code == 202  # repeat: harmless
    assert api.record("alpha", rec["id"])["status"] == "cancelled"


def test_cancel_of_a_finished_job_is_409(stack):
    api = stack.api
    rec = api.submit_ok("beta", job_body(unique("done"), workers=0))
    api.wait_status("beta", rec["id"], "succeeded", 60)
    response = api.cancel("beta", rec["id"])
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "application/problem+json"


def test_kubectl_delete_marks_the_job_cancelled(any_stack, kubeconfig, kubectl_bin):
    stack = any_stack
    api = stack.api
    rec = api.submit_ok("alpha", job_body(unique("kdel"), annotations={
        "trainq.dev/sim-run-for": "120s"}))  # fmt: skip
    final = api.wait_status("alpha", rec["id"], "running", 60)
    ref = final["pytorchjob"]
    subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "delete", stack.backend.plural, "-n",
         ref["namespace"], ref["name"], "--wait=false"],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    final = api.wait_status("alpha", rec["id"], "cancelled", 30)
    assert final["reason"] == "PyTorchJobDeleted"
    assert "deleted outside trainq" in final["message"]


def test_team_isolation_against_live_jobs(stack):
    api = stack.api
    rec = api.submit_ok("alpha", job_body(unique("iso")))
    assert api.job("alpha", rec["id"], token="beta").status_code == 404
    assert api.queue("alpha", token="beta").status_code == 404
    assert api.cancel("alpha", rec["id"], token="beta").status_code == 404
    assert api.job("beta", rec["id"], token="beta").status_code == 404
    assert api.job("alpha", rec["id"], token="admin").status_code == 200
    api.wait_status("alpha", rec["id"], "succeeded", 60)  # untouched by beta's attempts
