"""Training metrics and logs of a REAL training job end to end: the intent-classification trainer
(1 Master + 1 Worker, DDP over gloo) runs through the real operator on a node agent of the
test's own; dispatch injected its job's metrics URL and token, so rank 0 reports each epoch and
its final metrics (accuracy, macro precision / recall / F1 on the test split) to the API over
loopback. The team reads them (`GET .../metrics`), compares the run (`GET .../runs`), reads the
replicas' logs live (followed while it trains), and again after the PyTorchJob and its pods
are deleted: the copy the watcher kept when the job ended (`Trainq-Log-Source: archive`)."""

import json
import shutil

import pytest
import redis
from kubernetes import client

from tests.integration.end_to_end.test_real_training import claim_directory, training_body
from tests.support import wait_until
from tests.support.nodeagent import pinned_local_stack
from tests.support.stack import TOKENS, unique
from wrapper.redis import keys
from wrapper.runs.logs import ARCHIVED_AT

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
LOCAL = {"Authorization": f"Bearer {TOKENS['local']}"}


@pytest.fixture
def metrics_stack(tmp_path, kubeconfig, kube_api, private_redis):
    """Team `local` pinned to this test's node agent (the Stack names its own API as the
    metrics channel: dispatch.metrics_url)."""
    with pinned_local_stack(
        tmp_path, kubeconfig, client.CoreV1Api(kube_api), private_redis.url, "runs"
    ) as both:
        yield both


def logs(stack, job_id, **params):
    return stack.api.http.get(f"{stack.api.base}/v1/teams/local/jobs/{job_id}/logs",
                              params=params, headers=LOCAL, timeout=60)  # fmt: skip


def test_a_real_run_reports_its_metrics_and_its_logs_outlive_its_pods(
    metrics_stack, tmp_path, kube_api, request
):
    stack, _agent = metrics_stack
    api, core = stack.api, client.CoreV1Api(kube_api)
    body = training_body(unique("metrics"), tmp_path / "out")
    body["env"].update({"EPOCHS": "2"})
    job_id = api.submit_ok("local", body)["id"]
    name = f"{stack.instance}-{job_id}"
    request.addfinalizer(lambda: shutil.rmtree(claim_directory(core) / name, ignore_errors=True))

    # Live: the Master's log followed while it trains, to its end.
    api.wait_status("local", job_id, {"running", "succeeded"}, timeout=180)
    followed = wait_until("the Master's live log", lambda: (r := logs(
        stack, job_id, replica="Master", follow="true")).ok and r, timeout=60)  # fmt: skip
    assert followed.headers["Trainq-Log-Source"] == "live"
    final = api.wait_status("local", job_id, {"succeeded", "failed"}, timeout=300)
    assert final["status"] == "succeeded", (final, followed.text[-3000:])
    assert "epoch 2/2 train_loss=" in followed.text and "done: test_accuracy=" in followed.text

    # The metrics the trainer reported, as the team reads them.
    got = api.http.get(f"{api.base}/v1/teams/local/jobs/{job_id}/metrics", headers=LOCAL,
                       timeout=10).json()  # fmt: skip
    manifest = json.loads((tmp_path / "out/model/manifest.json").read_text())
    assert [p["epoch"] for p in got["epochs"]] == [1, 2]
    assert {"train_loss", "val_accuracy"} <= set(got["epochs"][0]["values"])
    for key in ("test_accuracy", "test_precision_macro", "test_recall_macro", "test_f1_macro"):
        assert got["final"][key] == manifest["metrics"][key] and 0 < got["final"][key] <= 1
    assert got["weights_sha256"] == manifest["weights"]["sha256"]
    assert got["hyperparameters"]["epochs"] == 2

    # The run among the team's runs, with what made it.
    runs = api.http.get(f"{api.base}/v1/teams/local/runs", headers=LOCAL, timeout=10, params={
        "dataset_id": "intents-bundled", "sort": "-test_accuracy"}).json()  # fmt: skip
    (run,) = [r for r in runs["items"] if r["id"] == job_id]
    assert run["dataset"] == {"id": "intents-bundled", "version_hash": "v1"}
    assert run["image"] == body["image"] and run["env"]["EPOCHS"] == "2"
    assert run["weights_sha256"] == manifest["weights"]["sha256"]

    # Kept when it ended; then the PyTorchJob and its pods go, and the logs stay.
    r = redis.Redis.from_url(stack.redis_url)
    wait_until("the logs kept", lambda: r.hexists(keys.run_logs(job_id), ARCHIVED_AT), timeout=30)
    stack.custom_api().delete_namespaced_custom_object(
        "kubeflow.org", "v1", "team-local", "pytorchjobs", name,
        body=client.V1DeleteOptions(propagation_policy="Foreground"))  # fmt: skip
    selector = f"trainq.dev/job-id={job_id},trainq.dev/instance={stack.instance}"
    wait_until("the pods gone", lambda: not core.list_namespaced_pod(
        "team-local", label_selector=selector).items, timeout=90)  # fmt: skip
    master = logs(stack, job_id, replica="Master")
    assert master.status_code == 200 and master.headers["Trainq-Log-Source"] == "archive"
    assert "done: test_accuracy=" in master.text and "epoch 1/2" in master.text
    worker = logs(stack, job_id, replica="Worker", index="0", tail="3")
    assert worker.headers["Trainq-Log-Source"] == "archive" and worker.text.count("\n") <= 3
    assert "rank 1 of 2 joined" in logs(stack, job_id, replica="Worker").text

    # Bad parameters name the field; another team's job is not found.
    bad_params = (({"replica": "Chief"}, "replica"), ({"replica": "Worker", "index": "1"}, "index"),
                  ({"tail": "0"}, "tail"), ({"follow": "yes"}, "follow"))  # fmt: skip
    for params, field in bad_params:
        bad = logs(stack, job_id, **params)
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == field, params
    other = api.http.get(f"{api.base}/v1/teams/local/jobs/{job_id}/logs", timeout=10,
                         headers={"Authorization": f"Bearer {TOKENS['alpha']}"})  # fmt: skip
    assert other.status_code == 404
