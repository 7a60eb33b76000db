"""The CLI's commands against a stub API: what each sends, what it prints (tables and
`--output json`), and how a refusal reads (the problem's title, detail and fields; exit 1)."""

import json

from tests.unit.cli.conftest import problem

RECORD = {
    "id": 42, "team": "alpha", "name": "resnet", "status": "queued", "position": 2,
    "global_position": 5, "pending_reason": "WaitingForQuota",
    "message": "needs 4 gpu; team alpha uses 12 of 12", "eta_seconds": 95.0,
    "reason": None, "submitted_at": "2026-01-01T10:00:00.123Z", "admitted_at": None,
    "started_at": None, "finished_at": None,
    "spec": {"name": "resnet", "image": "docker.io/x/y:1", "workers": 2, "env": {"EPOCHS": "10"}},
    "pytorchjob": None, "replicas": {}, "conditions": [],
}  # fmt: skip
RUNNING = {**RECORD, "status": "running", "position": None, "pending_reason": None,
           "eta_seconds": None, "admitted_at": "2026-01-01T10:00:01Z",
           "started_at": "2026-01-01T10:00:02Z", "reason": "PyTorchJobRunning",
           "message": "PyTorchJob team-alpha/tq-42 is running.",
           "replicas": {"Master": {"active": 1, "succeeded": 0, "failed": 0},
                        "Worker": {"active": 2, "succeeded": 0, "failed": 0}}}  # fmt: skip
METRICS = {"job_id": 42, "status": "running", "final": None, "weights_sha256": None,
           "hyperparameters": None, "reported_at": None, "non_finite_loss": None,
           "epochs": [{"epoch": e, "values": {"train_loss": 1.0 / e, "val_accuracy": 0.5}}
                      for e in (1, 2, 3)]}  # fmt: skip


def test_submit_merges_the_job_file_and_flags(api, cli, tmp_path):
    api.on("POST", "/v1/teams/alpha/jobs", (202, {**RECORD, "position": 0}))
    job = tmp_path / "job.yaml"
    job.write_text("name: from-file\nimage: docker.io/library/busybox:1.36\nworkers: 1\n"
                   "resources: {cpu: '1', memory: 1Gi}\nenv: {A: '1'}\n")  # fmt: skip
    result = cli("submit", str(job), "--workers", "3", "--gpu", "1", "-e", "B=2",
                 "--command", "python -m train --fast", "--idempotency-key", "k1")  # fmt: skip
    assert result.exit_code == 0, result.output
    sent = api.requests("POST", "/v1/teams/alpha/jobs")[0]
    assert sent.body == {
        "name": "from-file", "image": "docker.io/library/busybox:1.36", "workers": 3,
        "resources": {"cpu": "1", "memory": "1Gi", "gpu": 1}, "env": {"A": "1", "B": "2"},
        "command": ["python", "-m", "train", "--fast"],
    }  # fmt: skip
    assert sent.headers["Idempotency-Key"] == "k1"
    assert "Submitted job 42" in result.stdout
    assert "trainq status 42 --watch" in result.stdout


def test_submit_by_algorithm_with_params(api, cli):
    api.on("POST", "/v1/teams/alpha/jobs", (202, RECORD))
    result = cli("submit", "--name", "ic", "--algorithm", "intent-classification",
                 "--param", "LR=0.01", "--dataset", "intents:v1", "-o", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.seen[-1].body == {"name": "ic", "algorithm": "intent-classification",
                                 "env": {"LR": "0.01"},
                                 "dataset": {"id": "intents", "version_hash": "v1"}}  # fmt: skip
    assert json.loads(result.stdout)["id"] == 42


def test_submit_dry_run(api, cli):
    api.on("POST", "/v1/teams/alpha/jobs", (200, {
        "team": "alpha", "admissible_now": False, "position": 2, "global_position": 3,
        "pending_reason": "WaitingForQuota", "message": "needs 2 gpu", "eta_seconds": None,
        "placement": [], "demand": {"cpu": "2", "gpu": 2}, "replicas": 2}))  # fmt: skip
    result = cli("submit", "--name", "x", "--image", "docker.io/a/b:1", "--dry-run")
    assert result.exit_code == 0, result.output
    assert api.seen[-1].query == {"dry_run": ["true"]}
    assert "nothing was submitted" in result.stdout
    assert "WaitingForQuota" in result.stdout


def test_submit_usage_errors(api, cli, tmp_path):
    assert cli("submit").exit_code == 2
    bad = cli("submit", "--name", "x", "-e", "NOEQUALS")
    assert bad.exit_code == 2
    assert "--env takes KEY=VALUE" in bad.stderr
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n")
    assert cli("submit", str(listed)).exit_code == 2
    assert cli("submit", str(tmp_path / "missing.yaml")).exit_code == 2
    assert api.seen == []


def test_a_refusal_prints_title_detail_and_fields(api, cli):
    api.on("POST", "/v1/teams/alpha/jobs", problem(
        422, "Unprocessable Content", "The request is invalid.",
        [{"field": "env.RANK", "message": "RANK is set by the operator"},
         {"field": "resources.cpu", "message": "'two' is not a Kubernetes quantity"}]))  # fmt: skip
    result = cli("submit", "--name", "x", "--image", "docker.io/a/b:1", "-e", "RANK=1")
    assert result.exit_code == 1
    assert "Unprocessable Content (422): The request is invalid." in result.stderr
    assert "env.RANK: RANK is set by the operator" in result.stderr
    assert "resources.cpu" in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_another_teams_job_is_not_found(api, cli):
    api.on("GET", "/v1/teams/beta/jobs/42", problem(404, "Not Found", "No such job."))
    result = cli("status", "42", "--team", "beta")
    assert result.exit_code == 1
    assert "Not Found (404): No such job." in result.stderr


def test_a_non_problem_error_body_still_reads(api, cli):
    api.on("GET", "/v1/teams/alpha/jobs/1", (502, "<html>bad gateway</html>"))
    result = cli("status", "1")
    assert result.exit_code == 3
    assert "bad gateway" in result.stderr


def test_unauthorized_hints_at_the_token(api, cli):
    api.on("GET", "/v1/teams/alpha/queue", problem(401, "Unauthorized", "Missing token."))
    result = cli("queue")
    assert result.exit_code == 1
    assert "check the token" in result.stderr


def test_status_of_a_queued_job_shows_place_reason_eta(api, cli):
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RECORD))
    result = cli("status", "42")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "2 in the team's queue, 5 among all teams" in out
    assert "WaitingForQuota: needs 4 gpu; team alpha uses 12 of 12" in out
    assert "1m35s" in out  # ETA
    assert api.requests("GET", "/v1/teams/alpha/jobs/42/metrics") == []  # not while queued


def test_status_of_a_running_job_shows_replicas_and_epochs(api, cli):
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RUNNING))
    api.on("GET", "/v1/teams/alpha/jobs/42/metrics", (200, METRICS))
    result = cli("status", "42")
    assert result.exit_code == 0, result.output
    assert "3/10" in result.stdout  # epochs, total from the EPOCHS env
    assert "val_accuracy=0.5" in result.stdout
    worker = next(line for line in result.stdout.splitlines() if line.strip().startswith("Worker"))
    assert worker.split() == ["Worker", "2", "2", "0", "0"]


def test_status_json_is_the_record(api, cli):
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RUNNING))
    result = cli("status", "42", "--output", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == RUNNING


def test_cancel_suspend_resume(api, cli):
    api.on("DELETE", "/v1/teams/alpha/jobs/42", (202, {**RECORD, "status": "cancelled"}))
    api.on("POST", "/v1/teams/alpha/jobs/42/suspend", (202, {**RECORD, "status": "suspended"}))
    api.on("POST", "/v1/teams/alpha/jobs/42/resume", (202, RECORD))
    assert "job 42 (resnet): cancelled" in cli("cancel", "42").stdout
    assert "suspended" in cli("suspend", "42").stdout
    assert json.loads(cli("resume", "42", "-o", "json").stdout)["status"] == "queued"
    api.on("DELETE", "/v1/teams/alpha/jobs/43",
           problem(409, "Conflict", "Job 43 already finished."))  # fmt: skip
    done = cli("cancel", "43")
    assert done.exit_code == 1
    assert "Conflict (409): Job 43 already finished." in done.stderr


def test_logs_passes_replica_index_tail(api, cli):
    api.on("GET", "/v1/teams/alpha/jobs/42/logs",
           (200, "epoch 9\nepoch 10\n", {"Trainq-Log-Source": "archive"}))  # fmt: skip
    result = cli("logs", "42", "--replica", "Worker", "--index", "1", "--tail", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout == "epoch 9\nepoch 10\n"
    assert api.seen[-1].query == {"replica": ["Worker"], "index": ["1"], "tail": ["2"]}
    as_json = json.loads(cli("logs", "42", "-o", "json").stdout)
    assert as_json["source"] == "archive" and as_json["log"].endswith("epoch 10\n")
    assert cli("logs", "42", "-f", "-o", "json").exit_code == 2
    assert cli("logs", "42", "--replica", "Chief").exit_code == 2


QUEUE = {
    "team": "alpha", "weight": 1.0, "quota": {"max_running_jobs": 20, "cpu": "48",
                                              "memory": "384Gi", "gpu": 12},
    "borrowing_limit": None, "usage": {"jobs": 3, "cpu": "6", "memory": "24Gi", "gpu": 12},
    "borrowed": {"cpu": "0", "memory": "0", "gpu": 0}, "share": 0.5, "queued": 1, "running": 3,
    "oldest_wait_seconds": 42.1, "next_cursor": None,
    "jobs": [{"id": 43, "name": "a", "position": 0, "global_position": 1,
              "pending_reason": "WaitingForQuota", "message": "needs 4 gpu",
              "eta_seconds": 30.5, "priority": 5, "submitted_at": "x", "wait_seconds": 42.1,
              "demand": {"cpu": "2", "memory": "8Gi", "gpu": 4}}],
}  # fmt: skip


def test_queue_table_and_json(api, cli):
    api.on("GET", "/v1/teams/alpha/queue", (200, QUEUE))
    result = cli("queue", "--limit", "10")
    assert result.exit_code == 0, result.output
    assert api.seen[-1].query == {"limit": ["10"]}
    out = result.stdout
    assert "WaitingForQuota: needs 4 gpu" in out and "30s" in out
    gpu = next(line for line in out.splitlines() if line.strip().startswith("gpu"))
    assert "12" in gpu and "━" in gpu  # a usage bar
    assert json.loads(cli("queue", "-o", "json").stdout) == QUEUE


def test_queue_all_is_the_admin_summary(api, cli):
    api.on("GET", "/v1/queues", (200, {"capacity": {"cpu": "96", "memory": "768Gi", "gpu": 24},
                                      "used": {"cpu": "6", "memory": "24Gi", "gpu": 12},
                                      "free": {}, "admission_rate_per_minute": 12.0,
                                      "teams": [{**QUEUE, "jobs": None}]}))  # fmt: skip
    result = cli("queue", "--all")
    assert result.exit_code == 0, result.output
    assert "alpha" in result.stdout and "12/12" in result.stdout


RUN = {"id": 5, "name": "lr-01", "status": "succeeded", "submitted_at": "a", "finished_at": "b",
       "image": "ghcr.io/trainq/ic:0.1.0", "algorithm": {"name": "ic", "version": "0.1.0"},
       "dataset": {"id": "intents", "version_hash": "v1"}, "env": {"LR": "0.01", "SEED": "1"},
       "hyperparameters": {}, "weights_sha256": "ab", "epochs_reported": 10,
       "final": {"test_accuracy": 0.93, "test_f1_macro": 0.9}}  # fmt: skip


def test_runs_table_shows_varying_params_and_metrics(api, cli):
    other = {**RUN, "id": 6, "name": "lr-1", "env": {"LR": "0.1", "SEED": "1"},
             "final": {"test_accuracy": 0.81}}  # fmt: skip
    api.on("GET", "/v1/teams/alpha/runs", (200, {"items": [RUN, other], "scanned": 9}))
    result = cli("runs", "--algorithm", "ic", "--sort", "-test_accuracy")
    assert result.exit_code == 0, result.output
    assert api.seen[-1].query == {"algorithm": ["ic"], "sort": ["-test_accuracy"]}
    header = result.stdout.splitlines()[1]
    assert "LR" in header and "SEED" not in header and "test_accuracy" in header
    assert "0.93" in result.stdout and "0.81" in result.stdout


def test_runs_compare(api, cli):
    for job_id, lr, acc in ((5, "0.01", 0.93), (6, "0.1", 0.81)):
        rec = {**RUNNING, "id": job_id, "status": "succeeded",
               "spec": {**RUNNING["spec"], "env": {"LR": lr}}}  # fmt: skip
        api.on("GET", f"/v1/teams/alpha/jobs/{job_id}", (200, rec))
        api.on("GET", f"/v1/teams/alpha/jobs/{job_id}/metrics",
               (200, {**METRICS, "final": {"test_accuracy": acc}}))  # fmt: skip
    result = cli("runs", "--compare", "5", "6")
    assert result.exit_code == 0, result.output
    acc = next(line for line in result.stdout.splitlines() if "final test_accuracy" in line)
    assert "0.93" in acc and "0.81" in acc and "-0.12" in acc
    diff = json.loads(cli("runs", "--compare", "5", "6", "-o", "json").stdout)["differences"]
    assert diff == ["env LR", "final test_accuracy"]


def test_algorithms(api, cli):
    algo = {"name": "intent-classification", "description": "intents", "version": "0.1.0",
            "image": "ghcr.io/trainq/ic", "image_ref": "ghcr.io/trainq/ic:0.1.0",
            "command": ["python", "-m", "x"], "created_by": "config", "created_at": "t",
            "updated_by": "config", "updated_at": "t"}  # fmt: skip
    api.on("GET", "/v1/algorithms", (200, {"items": [algo]}))
    history = [{"version": "0.1.0", "image": "ghcr.io/trainq/ic", "command": None,
                "image_ref": "ghcr.io/trainq/ic:0.1.0", "published_by": "config",
                "published_at": "t"}]  # fmt: skip
    api.on("GET", "/v1/algorithms/intent-classification", (200, {**algo, "history": history}))
    result = cli("algorithms")
    assert result.exit_code == 0, result.output
    assert "ghcr.io/trainq/ic:0.1.0" in result.stdout
    assert json.loads(cli("algorithms", "-o", "json").stdout)["items"][0]["version"] == "0.1.0"
    one = cli("algorithms", "intent-classification")
    assert "published versions" in one.stdout


def test_logs_follow_waits_for_the_container(api, cli, monkeypatch):
    from wrapper.cli import logs

    monkeypatch.setattr(logs, "WAIT_SECONDS", 0.01)
    api.on("GET", "/v1/teams/alpha/jobs/42", (200, RUNNING))
    api.on("GET", "/v1/teams/alpha/jobs/42/logs",
           problem(409, "Conflict", "The log cannot be read yet: ContainerCreating"),
           (200, "started\n", {"Trainq-Log-Source": "live"}))  # fmt: skip
    result = cli("logs", "42", "-f")
    assert result.exit_code == 0, result.output
    assert result.stdout == "started\n"
    assert "waiting for the container to start" in result.stderr
    assert api.seen[-1].query == {"replica": ["Master"], "index": ["0"], "follow": ["true"]}
