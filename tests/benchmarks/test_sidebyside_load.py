"""Workloads 2 and 3 of the side by side with Kueue (benchmarks/sidebyside_load.py): the team
configurations, Kueue's gang PyTorchJob, the stream's figures and their table rows; pure, no
cluster."""

from benchmarks import kueue as kq
from benchmarks import kueue_report
from benchmarks.sidebyside import RUN_LABEL, KueueSide
from benchmarks.sidebyside_load import STREAM_WEIGHTS, mixed_teams, stream_figures, stream_teams


def _gpu(cq: dict) -> tuple[str, str]:
    res = cq["spec"]["resourceGroups"][0]["flavors"][0]["resources"]
    return next((r["nominalQuota"], r["borrowingLimit"]) for r in res if r["name"] == kq.GPU)


def test_mixed_teams_half_the_pool_each_the_rest_borrowable_no_preemption():
    teams = mixed_teams(6)
    assert [t["name"] for t in teams] == ["alpha", "beta"]
    for t in teams:
        cq = kq.cluster_queue(t, "p", "f")
        assert _gpu(cq) == ("24", "24")
        assert cq["spec"]["preemption"] == {"reclaimWithinCohort": "Never",
                                            "withinClusterQueue": "Never"}  # fmt: skip


def test_stream_teams_weights_and_nominal_quotas_in_ratio():
    teams = {t["name"]: t for t in stream_teams(4)}
    assert {n: t["weight"] for n, t in teams.items()} == STREAM_WEIGHTS
    cqs = {n: kq.cluster_queue(t, "p", "f") for n, t in teams.items()}
    assert {n: _gpu(cq) for n, cq in cqs.items()} == {
        "alpha": ("8", "24"), "beta": ("8", "24"), "gamma": ("16", "16"),
    }  # fmt: skip
    assert cqs["gamma"]["spec"]["fairSharing"] == {"weight": "2"}


def test_kueue_gang_job_has_a_worker_set_and_labelled_pods():
    side = object.__new__(KueueSide)  # no watch: job() only builds the object
    side.run, side.pool, side.ns, side.grace = "r1", "pool", {"alpha": "ns-a"}, 5
    job = side.job("alpha", "pack-1", 4, "7s", replicas=3)
    specs = job["spec"]["pytorchReplicaSpecs"]
    assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] == 2
    for spec in specs.values():
        meta = spec["template"]["metadata"]
        assert meta["labels"] == {RUN_LABEL: "r1"}
        assert meta["annotations"] == {"trainq.dev/sim-run-for": "7s"}
        limits = spec["template"]["spec"]["containers"][0]["resources"]["limits"]
        assert limits["nvidia.com/gpu"] == "4"
    assert job["spec"]["runPolicy"]["suspend"] is True
    assert "Worker" not in side.job("alpha", "one", 1, "1s")["spec"]["pytorchReplicaSpecs"]


def _job(team, submitted, started, end, gpus=1):
    return {"team": team, "submitted": submitted, "started": started,
            "spans": [[started, end]] if started is not None else [], "gpus": gpus}  # fmt: skip


def test_stream_figures_latency_rate_and_jain_under_saturation():
    weights = {"a": 1, "b": 1, "c": 2}
    # 0..4 s: each team has a job waiting (admitted at 4); use a 1, b 1, c 2 (= weights).
    jobs = [_job("a", 0, 0, 4), _job("b", 0, 0, 4), _job("c", 0, 0, 4), _job("c", 0, 0, 4),
            _job("a", 0, 4, 5), _job("b", 0, 4, 5), _job("c", 0, 4, 5)]  # fmt: skip
    out = stream_figures(jobs, weights, step=1.0)
    assert out["jain_mean"] == 1.0 and out["saturated_s"] == 4.0
    assert out["share_saturated"] == {"a": 0.25, "b": 0.25, "c": 0.5}
    assert out["samples"] == 7 and out["p99_s"] == 4 and out["p50_s"] == 0
    assert out["admitted"] == 7 and out["admissions_per_s"] == 1.5  # 6 more over 4 s
    # Equal use regardless of weight: x = 2, 2, 1 -> Jain 25 / 27.
    unfair = [_job("a", 0, 0, 2, 2), _job("b", 0, 0, 2, 2), _job("c", 0, 0, 2, 2),
              _job("a", 0, 2, 3), _job("b", 0, 2, 3), _job("c", 0, 2, 3)]  # fmt: skip
    assert stream_figures(unfair, weights, step=1.0)["jain_mean"] == round(25 / 27, 3)


def test_stream_figures_a_preempted_span_stops_counting():
    jobs = [_job("a", 0, 0, 1), _job("b", 0, 3, 4)]
    jobs[0]["spans"] = [[0, 1], [2, None]]  # suspended at 1, admitted again at 2, not ended
    out = stream_figures(jobs, {"a": 1, "b": 1}, step=1.0)
    # waiting instants: 0, 1, 2 (b queued; a has been admitted: not waiting) -> none saturated
    assert out["jain_mean"] is None and out["saturated_s"] == 0


def test_side_by_side_table_rows_for_mixed_and_stream():
    side = {"samples": 2, "p50_s": 0.1, "p99_s": 0.2, "max_s": 0.2, "cpu_s": 1.0, "window_s": 5}
    mixed = {"utilisation_while_waiting": 0.8, "held_while_waiting": 0.9, "waiting_s": 60,
             "half_placed_jobs": 0, "makespan_s": 90, "cpu_s": 3.0, "window_s": 91}  # fmt: skip
    stream = {**side, "admissions_per_s": 9.5, "jain_mean": 0.98, "saturated_s": 50,
              "share_saturated": {"alpha": 0.25}, "preemptions": 3}  # fmt: skip
    results = {
        "kueue_version": "v0.17.0",
        "mixed": {"jobs": 70, "gpus_asked": 500, "run_for_s": [5, 20], "nodes": 6,
                  "trainq": mixed, "kueue": {**mixed, "half_placed_jobs": 4}},
        "stream": {"jobs": 300, "run_for_s": 3, "rate_per_s": 20.0, "gpus": 32,
                   "trainq": stream, "kueue": {**stream, "jain_mean": 0.99}},
    }  # fmt: skip
    rows = kueue_report.table(results).splitlines()[2:]
    assert len(rows) == 4
    assert rows[0].startswith("| 2. Mixed") and rows[0].endswith("| yes |")
    assert "4 half-placed jobs" in rows[0]
    assert "**300, not issue 19's 1,000**" in rows[2] and rows[2].endswith("| **no** |")
    results["mixed"]["kueue"] = {"error": "RuntimeError: boom"}
    assert kueue_report.rows(results)[0][2:] == ("failed: RuntimeError: boom", "n/a")
