"""A tiny run of every benchmark (`python -m benchmarks --smoke`) so the harness cannot rot: it
must produce each figure with its baseline. How fast they are is not checked here."""

import json
import os
import signal
import subprocess
import sys

import pytest

from tests.support import REPO

# Its own Redis DB: not the integration tests' (1..), `make up`'s (0) or `make bench`'s (60).
SMOKE_DB = "61"

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture(scope="module")
def results(tmp_path_factory, kubeconfig) -> dict:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    # Its own session: past the timeout the whole group goes, not only the harness (its
    # gunicorns and workers would otherwise outlive it and take the next run's CPU).
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks", "--smoke", "--out", str(out), "--db", SMOKE_DB],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    try:
        stdout, stderr = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    files = sorted(out.glob("*.json"))
    assert files, f"no results written\n{stdout[-3000:]}\n{stderr[-3000:]}"
    data = json.loads(files[-1].read_text())
    data["_log"] = stdout[-3000:] + stderr[-3000:]
    data["_rc"] = proc.returncode
    assert (out / files[-1].name.replace(".json", ".md")).is_file()
    return data


def _ok(results: dict, name: str) -> dict:
    section = results.get(name)
    assert section, f"{name}: no figures\n{results['_log']}"
    assert "error" not in section, f"{name}: {section['error']}\n{results['_log']}"
    return section


def test_runs_cleanly(results):
    assert results["_rc"] == 0, results["_log"]
    assert results["machine"]["nproc"]


def test_submission_figures(results):
    s = _ok(results, "submission")
    assert s["submit"]["rate"] > 0 and s["noop"]["rate"] > 0
    assert s["ratio_vs_noop"] is not None and s["ratio_vs_redis"] is not None
    assert s["redis_commands_per_submission"]["total"] > 0
    assert s["submit"]["non_2xx"] == 0


def test_dispatch_figures(results):
    d = _ok(results, "dispatch")
    assert d["trainq_rate"] > 0 and d["raw_rate"] > 0 and d["ratio_vs_raw"] is not None
    assert d["latency_samples"] > 0 and d["latency_p50_ms"] > 0
    assert d["pytorchjobs_deleted"] >= d["n_queued"]
    assert d["raw_rate_pytorchjob_only"] > 0 and d["ratio_vs_pytorchjob_only"] is not None
    for side in ("trainq", "raw"):  # both /proc readings were taken in each side's window
        cpu = d["cpu_per_job_per_round"][0][side]
        assert {"trainq workers", "trainq watcher", "kube-apiserver", "redis"} <= set(
            cpu["ms_per_job"]
        )
        assert all(v >= 0 for v in cpu["ms_per_job"].values()) and cpu["cores_busy"] >= 0


def test_status_figures(results):
    st = _ok(results, "status")
    assert st["trainq"]["samples"] > 0 and st["apiserver"]["samples"] > 0
    assert st["speedup_p50"] is not None and st["jobs_in_store"] > 0
    rated = st["rate_vs_noop"]
    assert rated["rate"] > 0 and rated["noop_rate"] > 0 and rated["reads"] > 0
    # (produced, not zero here: in `make test` other tests read PyTorchJobs meanwhile, and the
    # apiserver's counters are cluster-wide; `make bench` runs alone)
    assert rated["apiserver_workload_reads_per_read"] is not None


def test_scale_figures(results):
    sc = _ok(results, "scale")
    assert sc["enqueue_empty"]["rate"] > 0 and sc["enqueue_ratio"] is not None
    assert sc["admission"]["decision"]["samples"] > 0
    assert sc["memory_per_job_bytes"] is not None
    with_nodes = sc["admission"]["decision_with_snapshot_by_nodes"]
    assert set(with_nodes) == {"10"} and with_nodes["10"]["samples"] > 0


def test_reclaim_figures(results):
    rc = _ok(results, "reclaim")
    assert rc["reclaim"]["samples"] == 1 and rc["reclaim"]["preemptions"] >= 1
    assert rc["reclaim"]["p50_s"] > 0
    # without preemption the entitled job waits for a borrower's job to end
    assert rc["no_preemption"]["preemptions"] == 0
    assert rc["no_preemption"]["p50_s"] >= 1


def test_redone_figures(results):
    rd = _ok(results, "redone")
    modes = rd["modes"]
    assert rd["reference_s"] > 0 and set(modes) == {"sigterm", "epoch", "none"}
    for m in modes.values():  # stopped once (unless it beat the stop) and then finished
        assert m["attempts"] in (1, 2) and m["exit_codes"][-1] == 0 and m["weights_sha256"]
    assert modes["sigterm"]["identical_weights"]


def test_depth_figures(results):
    dp = _ok(results, "depth")
    assert [dp["by_depth"][str(n)]["queued"] >= n for n in dp["depths"]] == [True, True]
    assert set(dp["p50_ratio"]) == {"submit", "submit_first", "cancel", "admit", "status_page"}
    assert all(dp["by_depth"]["200"][op]["samples"] > 0 for op in dp["p50_ratio"])


def test_idle_figures(results):
    i = _ok(results, "idle")
    assert i["worker_cpu_percent_blocked"] and i["worker_cpu_percent_empty"]
    assert i["still_queued_after"] == i["blocked_jobs"]


def test_fairness_figures(results):
    f = _ok(results, "fairness")
    for policy in ("admission", "round_robin", "fifo"):
        assert 0 < f[policy]["jain_mean"] <= 1


def test_decision_figures_per_team_count(results):
    d = _ok(results, "decision")
    assert set(d["by_teams"]) == {"2", "5"}
    for fig in d["by_teams"].values():
        assert fig["decision"]["samples"] >= 3 and fig["full_plan"]["samples"] >= 3
        assert fig["round_robin"]["p50_ms"] >= 0


def test_table_names_every_benchmark(results):
    from benchmarks.report import table

    md = table(results)
    for figure in ("1. ", "2. ", "3. ", "4. ", "5. "):
        assert figure in md
