"""Where a job stands and why it waits, end to end: priorities order a team's queue; positions
and pending reasons are right at each step; a cancel frees a position; an ETA appears once
the admission rate is known; a job's end admits the next one within a second (event-driven);
a job that can never fit gets 422; the admin sees every queue."""

import time

import pytest

from tests.support import admission_stack as adm
from tests.support.stack import unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def _succeeded_in_cluster(stack, job_id) -> bool:
    items = stack.pytorchjobs("team-alpha", job_id)
    conds = ((items[0].get("status") or {}).get("conditions") or []) if items else []
    return any(c["type"] == "Succeeded" and c["status"] == "True" for c in conds)


def _queue(api, team="alpha"):
    response = api.queue(team)
    assert response.status_code == 200, response.text
    return response.json()


def test_positions_reasons_eta_cancel_and_event_driven_admission(
    tmp_path, kubeconfig, kube_api, private_redis
):
    stack = adm.start(
        tmp_path,
        private_redis.url,
        kubeconfig,
        {"alpha": {"quota": adm.quota(4, max_jobs=1)}, "beta": {"quota": adm.quota(8)}},
        cap_gpu=4,
    )
    try:
        api = stack.api
        # Never fits: more than the team's quota (no borrowing), more than the cluster (cap).
        too_big = api.submit("alpha", adm.gpu_body(unique("huge"), gpu=5))
        assert too_big.status_code == 422, too_big.text
        assert too_big.json()["errors"] == [
            {"field": "resources.gpu", "message": "needs 5 gpu, 1 more than team alpha's quota (4)"}
        ]
        too_big = api.submit("beta", adm.gpu_body(unique("huge"), gpu=3, workers=1))
        assert too_big.status_code == 422, too_big.text
        assert too_big.json()["errors"] == [
            {
                "field": "resources.gpu",
                "message": "needs 6 gpu, 2 more than the whole cluster has (4)",
            }
        ]

        first = api.submit_ok("alpha", adm.gpu_body(unique("first"), "4s"))
        api.wait_status("alpha", first["id"], {"created", "running"}, 30)
        b = api.submit_ok("alpha", adm.gpu_body(unique("b"), "2s"))
        c = api.submit_ok("alpha", adm.gpu_body(unique("c"), "2s", priority=5))
        d = api.submit_ok("alpha", adm.gpu_body(unique("d"), "2s"))
        queue = _queue(api)
        assert [j["id"] for j in queue["jobs"]] == [c["id"], b["id"], d["id"]]
        assert [j["position"] for j in queue["jobs"]] == [0, 1, 2]
        assert [j["global_position"] for j in queue["jobs"]] == [0, 1, 2]
        assert {j["pending_reason"] for j in queue["jobs"]} == {"WaitingForQuota"}
        assert queue["jobs"][0]["message"] == "team alpha runs 1 of 1 jobs (max_running_jobs)"
        assert queue["jobs"][0]["eta_seconds"] is None  # one admission: no rate yet
        assert queue["quota"] == {"max_running_jobs": 1, "cpu": "64", "memory": "256Gi", "gpu": 4}
        assert queue["usage"] == {"jobs": 1, "cpu": "0.1", "memory": "64Mi", "gpu": 1}
        assert queue["borrowed"] == {"cpu": "0", "memory": "0", "gpu": 0}
        assert queue["share"] == 0.25 and queue["queued"] == 3 and queue["running"] == 1
        record = api.record("alpha", b["id"])
        assert (record["position"], record["pending_reason"]) == (1, "WaitingForQuota")

        # Cancelling a queued job frees its position for the next.
        assert api.cancel("alpha", c["id"]).status_code == 202
        queue = _queue(api)
        assert [(j["id"], j["position"]) for j in queue["jobs"]] == [(b["id"], 0), (d["id"], 1)]

        # The first job's end admits the next within a second (no polling in the workers).
        wait_until(
            "the first job to succeed in the cluster",
            lambda: _succeeded_in_cluster(stack, first["id"]),
            30,
            interval=0.02,
        )
        seen_at = time.monotonic()
        wait_until(
            "b to be admitted",
            lambda: api.record("alpha", b["id"])["status"] != "queued",
            1.0,
            interval=0.02,
        )
        assert time.monotonic() - seen_at <= 1.0

        # Two admissions known: the job still waiting has an ETA, and is now first in line.
        record = api.record("alpha", d["id"])
        assert record["position"] == 0 and record["global_position"] == 0
        assert record["pending_reason"] == "WaitingForQuota"
        assert record["eta_seconds"] is not None and record["eta_seconds"] > 0

        # The admin view: every team.
        response = api.http.get(f"{api.base}/v1/queues", headers=api._h("admin"), timeout=10)
        assert response.status_code == 200, response.text
        everything = response.json()
        assert [t["team"] for t in everything["teams"]] == ["alpha", "beta"]
        assert everything["capacity"]["gpu"] == 4
        alpha = everything["teams"][0]
        assert alpha["queued"] == 1 and alpha["weight"] == 1 and alpha["oldest_wait_seconds"] > 0
        response = api.http.get(f"{api.base}/v1/queues", headers=api._h("alpha"), timeout=10)
        assert response.status_code == 404
    finally:
        stack.close()
