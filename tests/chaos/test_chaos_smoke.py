"""The short variant of `make chaos`, in `make test`: 40 jobs from 3 teams at 1/s while each
fault that stays inside this run's own processes lands once (API worker and whole API, an RQ
worker at random and one paused right after creating its PyTorchJob, the leading watcher,
Redis SIGKILL and restart). Nothing accepted is lost, nothing runs twice, nothing is left
unfinished, and dispatch resumes after every fault. The control-plane faults (apiserver,
etcd, operator, node) need the cluster to themselves: `make chaos` only."""

from random import Random

import pytest

from tests.chaos.faults import PRIVATE
from tests.chaos.harness import ChaosRun

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_faults_lose_nothing_and_run_nothing_twice(tmp_path, kubeconfig, kube_api):
    kinds = list(PRIVATE)
    Random(7).shuffle(kinds)
    run = ChaosRun(tmp_path, kubeconfig, jobs=40, rate=1.0, seed=7)
    try:
        result = run.run(kinds, gap_s=2.0, drain_s=120)
    finally:
        run.close()
    summary = {k: v for k, v in result.items() if k != "faults"}
    assert [f["kind"] for f in result["faults"]] == kinds
    assert result["accepted"] == 40, summary
    assert result["lost"] == 0, summary
    assert result["duplicate_pytorchjobs"] == 0, summary
    assert result["stuck"] == 0, summary
    assert result["by_status"] == {"succeeded": 40}, summary
    # Each fault was followed by a PyTorchJob creation while jobs were still coming.
    assert result["faults_without_resume"] == 0, result["faults"]
    assert result["max_resume_s"] < 30, result["faults"]
    assert result["respawns"].get("api", 0) >= 1  # the whole API went, and came back
