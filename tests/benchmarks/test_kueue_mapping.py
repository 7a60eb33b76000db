"""trainq's team configuration mapped onto Kueue's objects (benchmarks/kueue.py) and the
side-by-side table (benchmarks/kueue_report.py); pure, no cluster."""

from benchmarks import kueue as kq
from benchmarks import kueue_report
from benchmarks.sidebyside import reclaim_teams, seed_teams


def _resources(cq: dict) -> dict:
    flavor = cq["spec"]["resourceGroups"][0]["flavors"][0]
    return {r["name"]: (r["nominalQuota"], r["borrowingLimit"]) for r in flavor["resources"]}


def test_local_config_quotas_borrowing_limits_and_weights():
    alpha, beta, gamma = seed_teams()
    assert _resources(kq.cluster_queue(alpha, "p", "f")) == {
        "cpu": ("48", "0"), "memory": ("384Gi", "0"), "nvidia.com/gpu": ("12", "0"),
    }  # fmt: skip
    assert _resources(kq.cluster_queue(beta, "p", "f")) == {
        "cpu": ("48", "16"), "memory": ("384Gi", "128Gi"), "nvidia.com/gpu": ("12", "4"),
    }  # fmt: skip
    spec = kq.cluster_queue(gamma, "p", "f")["spec"]
    assert spec["cohortName"] == "p" and spec["fairSharing"] == {"weight": "1"}
    assert spec["preemption"] == {
        "reclaimWithinCohort": "Any",
        "withinClusterQueue": "LowerPriority",
    }


def test_objects_one_flavor_a_cluster_queue_and_local_queue_per_team():
    teams = reclaim_teams(4)
    objs = kq.objects(teams, "p", {"alpha": "ns-a", "beta": "ns-b"})
    kinds = [o["kind"] for o in objs]
    assert kinds == ["ResourceFlavor", "ClusterQueue", "ClusterQueue", "LocalQueue", "LocalQueue"]
    lq = objs[-1]
    assert lq["metadata"] == {"name": "lq-beta", "namespace": "ns-b"}
    assert lq["spec"] == {"clusterQueue": "p-beta"}
    assert _resources(objs[2])["nvidia.com/gpu"] == ("16", "16")
    assert kq.job_labels("beta") == {"kueue.x-k8s.io/queue-name": "lq-beta"}


def test_side_by_side_table():
    side = {"samples": 2, "p50_s": 0.1, "p99_s": 0.2, "max_s": 0.2, "cpu_s": 1.0, "window_s": 5}
    results = {
        "kueue_version": "v0.17.0",
        "seed_example": {"flood": 100, "trainq": {**side, "flood_submit_s": 1},
                         "kueue": {**side, "p99_s": 3.0, "flood_submit_s": 2}},
        "reclaim": {"gpus": 32, "entitled_per_round": 2, "rounds": 10,
                    "trainq": {**side, "p99_s": 0.9, "preemptions": 20},
                    "kueue": {**side, "p99_s": 0.5, "preemptions": 20}},
    }  # fmt: skip
    table = kueue_report.table(results)
    assert "Kueue v0.17.0" in table
    rows = table.splitlines()[2:]
    assert len(rows) == 5
    assert rows[0].endswith("| yes |") and rows[3].endswith("| **no** |")
    assert kueue_report.rows({"error": "boom"})[0][1] == "failed: boom"
