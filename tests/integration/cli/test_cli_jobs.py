"""The `trainq` CLI against the real stack (API under gunicorn, Redis, the watcher, RQ workers,
the local control plane): submit from a job file and from flags, status, the queue view, cancel
a queued job, another team's job refused, then `status --watch` following a job to succeeded,
and the installed console script itself."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.stack import FAST, TOKENS, job_body, unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_submit_queue_cancel_scope_and_watch(queued_stack, trainq, tmp_path):
    stack = queued_stack
    job_file = tmp_path / "job.yaml"
    job_file.write_text(yaml.safe_dump(job_body(unique("cli-file"))))
    made = trainq(stack, "submit", str(job_file), "-o", "json")
    assert made.exit_code == 0, made.output
    first = json.loads(made.stdout)
    assert first["status"] == "queued" and first["team"] == "alpha"

    run_for = "trainq.dev/sim-run-for=" + FAST["trainq.dev/sim-run-for"]
    flags = trainq(stack, "submit", "--name", unique("cli-flags"), "--image",
                   "docker.io/library/busybox:1.36", "--command", "sh -c 'echo hi'",
                   "--workers", "1", "--cpu", "100m", "--memory", "64Mi",
                   "--annotation", run_for)  # fmt: skip
    assert flags.exit_code == 0, flags.output
    second_id = int(flags.stdout.split("Submitted job ")[1].split()[0])
    assert f"trainq status {second_id} --watch" in flags.stdout

    # status --output json is the job record; the table shows its place in line.
    shown = trainq(stack, "status", str(first["id"]), "--output", "json")
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.stdout)
    assert record["id"] == first["id"] and record["status"] == "queued"
    table = trainq(stack, "status", str(second_id))
    assert "1 in the team's queue" in table.stdout, table.stdout

    # The queue view, both ways.
    queue = json.loads(trainq(stack, "queue", "-o", "json").stdout)
    assert [j["id"] for j in queue["jobs"]] == [first["id"], second_id]
    view = trainq(stack, "queue")
    assert view.exit_code == 0, view.output
    assert "quota" in view.stdout and str(second_id) in view.stdout

    # Cancel the queued one.
    cancelled = trainq(stack, "cancel", str(second_id))
    assert cancelled.exit_code == 0, cancelled.output
    assert "cancelled" in cancelled.stdout
    queue = json.loads(trainq(stack, "queue", "-o", "json").stdout)
    assert [j["id"] for j in queue["jobs"]] == [first["id"]]
    late = trainq(stack, "suspend", str(second_id))
    assert late.exit_code == 1 and "Conflict (409)" in late.stderr

    # Another team's job: the same 404 as a job that does not exist.
    foreign = trainq(stack, "status", str(first["id"]), team="beta")
    assert foreign.exit_code == 1
    assert "Not Found (404)" in foreign.stderr and "Traceback" not in foreign.output
    wrong_path = trainq(stack, "status", str(first["id"]), team="alpha", token="beta")
    assert wrong_path.exit_code == 1 and "Not Found (404)" in wrong_path.stderr

    # A refused submission names the fields.
    refused = trainq(stack, "submit", "--name", "bad", "--image", "docker.io/a/b:1",
                     "-e", "RANK=3", "--cpu", "two")  # fmt: skip
    assert refused.exit_code == 1
    assert "(422)" in refused.stderr and "env.RANK" in refused.stderr
    assert "resources.cpu" in refused.stderr

    # A worker comes: --watch follows the first job to the end.
    stack.start_worker("w1")
    watched = trainq(stack, "status", str(first["id"]), "--watch", "--timeout", "120")
    assert watched.exit_code == 0, watched.output
    assert "succeeded" in watched.stdout
    assert "following the event stream" in watched.stdout
    final = json.loads(trainq(stack, "status", str(first["id"]), "-o", "json").stdout)
    assert final["status"] == "succeeded"


def test_the_console_script(queued_stack, tmp_path):
    """`make venv` installs `trainq` (pyproject's [project.scripts]) next to the interpreter."""
    script = Path(sys.executable).parent / "trainq"
    script = str(script) if script.exists() else shutil.which("trainq")
    assert script, "no trainq command: run `make venv` (pip install -e . --no-deps)"
    env = {"PATH": str(Path(sys.executable).parent), "XDG_CONFIG_HOME": str(tmp_path),
           "TRAINQ_URL": queued_stack.api.base, "TRAINQ_TOKEN": TOKENS["beta"],
           "TRAINQ_TEAM": "beta", "COLUMNS": "200"}  # fmt: skip
    done = subprocess.run([script, "submit", "--name", unique("script"), "--image",
                           "docker.io/library/busybox:1.36", "-o", "json"],
                          env=env, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    job_id = json.loads(done.stdout)["id"]
    gone = subprocess.run([script, "status", str(job_id), "--team", "alpha"], env=env,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert gone.returncode == 1 and "Not Found" in gone.stderr
    assert "Traceback" not in gone.stderr
