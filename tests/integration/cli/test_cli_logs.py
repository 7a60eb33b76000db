"""`trainq logs` of a job whose pods were real processes (team `local` on a node agent of the
test's own), after it finished; `trainq runs` lists it; `submit --watch` follows it."""

import json

import pytest

from tests.support.stack import unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_logs_of_a_finished_job(local_stack, trainq):
    stack = local_stack
    made = trainq(stack, "submit", "--name", unique("cli-logs"), "--image",
                  "docker.io/library/busybox:1.36", "--workers", "1", "--cpu", "100m",
                  "--memory", "64Mi", "--command",
                  "sh -c 'echo cli-line-one; echo cli-line-two rank=$RANK; sleep 1'",
                  "--watch", "--timeout", "180", team="local")  # fmt: skip
    assert made.exit_code == 0, made.output
    assert "succeeded" in made.stdout
    job_id = int(made.stdout.split("Submitted job ")[1].split()[0])

    master = trainq(stack, "logs", str(job_id), team="local")
    assert master.exit_code == 0, master.output
    assert "cli-line-one" in master.stdout and "rank=0" in master.stdout
    worker = trainq(stack, "logs", str(job_id), "--replica", "Worker", "--index", "0",
                    "--tail", "1", "-o", "json", team="local")  # fmt: skip
    assert worker.exit_code == 0, worker.output
    got = json.loads(worker.stdout)
    assert got["source"] in ("live", "archive")
    assert got["log"].strip() == "cli-line-two rank=1"

    past = trainq(stack, "logs", str(job_id), "--replica", "Worker", "--index", "1",
                  team="local")  # fmt: skip
    assert past.exit_code == 1 and "index" in past.stderr  # 422 names the field

    runs = json.loads(trainq(stack, "runs", "-o", "json", team="local").stdout)
    assert job_id in [run["id"] for run in runs["items"]]
