"""Fair share across teams, end to end (real processes, Redis and control plane): a flooding
team does not starve a newcomer, and weights 2:1 split the admitted gpu-seconds 2:1."""

import itertools
import time

import pytest
import redis

from tests.support import admission_stack as adm
from tests.support.stack import unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def _list(api, team: str) -> list[dict]:
    response = api.http.get(
        f"{api.base}/v1/teams/{team}/jobs?limit=500", headers=api._h(team), timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_flooding_team_does_not_starve_a_newcomer(tmp_path, kubeconfig, kube_api, private_redis):
    stack = adm.start(
        tmp_path,
        private_redis.url,
        kubeconfig,
        {"alpha": {"quota": adm.quota(8)}, "beta": {"quota": adm.quota(8)}},
        cap_gpu=2,
    )
    try:
        api = stack.api
        flood = [api.submit_ok("alpha", adm.gpu_body(unique("flood"), "3s")) for _ in range(100)]
        wait_until(
            "alpha to fill the 2 gpus",
            lambda: adm.team_usage(redis.Redis.from_url(private_redis.url), "alpha").get("gpu")
            == 2,
            30,
        )
        submitted = api.submit_ok("beta", adm.gpu_body(unique("one"), "1s"))
        newcomer = api.record("beta", submitted["id"])
        # While the 2 gpus are busy, beta's job is next in line and alpha's wait for it.
        assert newcomer["pending_reason"] == "WaitingForCapacity", newcomer
        assert newcomer["global_position"] == 0 and newcomer["position"] == 0
        alpha_head = api.queue("alpha").json()["jobs"][0]
        assert alpha_head["pending_reason"] == "WaitingForFairShare", alpha_head
        # (the reason without naming the other team: a team never reads another's facts)
        assert "another team has a lower weighted share" in alpha_head["message"]
        assert "beta" not in alpha_head["message"]

        beta = api.wait_status(
            "beta", newcomer["id"], {"dispatching", "created", "running", "succeeded"}, 30
        )
        admitted_after = [
            r
            for r in _list(api, "alpha")
            if r["admitted_at"] and r["admitted_at"] > newcomer["submitted_at"]
        ]
        assert all(r["admitted_at"] > beta["admitted_at"] for r in admitted_after), (
            "an alpha job was admitted before beta's",
            beta["admitted_at"],
            sorted(r["admitted_at"] for r in admitted_after)[:3],
        )
        assert len(flood) == 100
    finally:
        stack.close()


def test_weights_two_to_one_split_gpu_seconds_two_to_one(
    tmp_path, kubeconfig, kube_api, private_redis
):
    stack = adm.start(
        tmp_path,
        private_redis.url,
        kubeconfig,
        {
            "alpha": {"quota": adm.quota(8), "weight": 2},
            "beta": {"quota": adm.quota(8), "weight": 1},
        },
        cap_gpu=6,
    )
    try:
        api = stack.api
        for _ in range(40):
            api.submit_ok("alpha", adm.gpu_body(unique("heavy"), "2s"))
            api.submit_ok("beta", adm.gpu_body(unique("light"), "2s"))
        client = redis.Redis.from_url(private_redis.url)

        def used():
            return (
                adm.team_usage(client, "alpha").get("gpu", 0),
                adm.team_usage(client, "beta").get("gpu", 0),
            )

        wait_until("saturation", lambda: sum(used()) == 6, 30)
        time.sleep(1)
        samples = adm.sample(15, used, interval=0.05)
        # Integrate reserved gpus over time: the admitted gpu-seconds of each team.
        seconds = {"alpha": 0.0, "beta": 0.0}
        for (t0, (a, b)), (t1, _) in itertools.pairwise(samples):
            seconds["alpha"] += a * (t1 - t0)
            seconds["beta"] += b * (t1 - t0)
        assert all(a + b <= 6 for _, (a, b) in samples)
        ratio = seconds["alpha"] / seconds["beta"]
        assert 1.8 <= ratio <= 2.2, (ratio, seconds)
    finally:
        stack.close()
