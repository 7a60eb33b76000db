"""Preemption on the real control plane, on kwok nodes of the test's own (3 x 8 gpus): a team
entitled to its quota takes back what another team borrowed (the borrower's latest jobs are
suspended, back in their queue, and resume on their same PyTorchJob once room returns), a job
running within its team's quota is never preempted, and within a team a higher-priority job
preempts a lower one."""

import pytest
import redis
from kubernetes import client

from tests.support.nodes import POOL_KEY, create_kwok_node, delete_nodes, pool_taint, pool_teams
from tests.support.stack import Stack, unique, wait_until
from wrapper.redis import keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def pool(kube_api):
    core = client.CoreV1Api(kube_api)
    pool_id = unique("pool")
    names = [f"{pool_id}-{i}" for i in range(3)]
    alloc = {"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": "8", "pods": "110"}
    for name in names:
        create_kwok_node(core, name, alloc, {POOL_KEY: pool_id}, [pool_taint(pool_id)])
    yield pool_id
    delete_nodes(core, names)


def make_stack(tmp_path, kubeconfig, redis_url, pool_id, alpha: dict, beta: dict) -> Stack:
    """alpha and beta on the pool, each with the given quota gpus / borrowing / preemption."""
    teams = []
    for t in pool_teams(pool_id, ("alpha", "beta"), {}):
        own = alpha if t["name"] == "alpha" else beta
        t["quota"] = {"max_running_jobs": 10, "cpu": "96", "memory": "768Gi", "gpu": own["gpu"]}
        t.pop("borrowing_limit", None)
        if own.get("borrow"):
            t["borrowing_limit"] = {"gpu": own["borrow"]}
        t["preemption"] = {"min_runtime_seconds": 0, **own.get("preemption", {})}
        teams.append(t)
    s = Stack(tmp_path / "stack", redis_url, kubeconfig, teams=teams,
              dispatch={"termination_grace_seconds": 2})  # fmt: skip
    s.start_all()
    return s


def gpu_job(name: str, gpu: int, run_for: str = "600s", priority: int = 0) -> dict:
    return {"name": name, "image": "docker.io/library/busybox:1.36", "command": ["true"],
            "resources": {"cpu": "1", "memory": "1Gi", "gpu": gpu}, "priority": priority,
            "annotations": {"trainq.dev/sim-run-for": run_for}}  # fmt: skip


def suspended(stack: Stack, namespace: str, job_id: int) -> bool:
    (obj,) = stack.pytorchjobs(namespace, job_id)
    return bool(obj["spec"]["runPolicy"].get("suspend"))


def test_reclaim_takes_back_borrowed_gpus_and_the_borrower_resumes(
    tmp_path, kubeconfig, private_redis, pool
):
    stack = make_stack(tmp_path, kubeconfig, private_redis.url, pool,
                       alpha={"gpu": 16, "preemption": {"reclaim": "Any"}},
                       beta={"gpu": 8, "borrow": 16})  # fmt: skip
    try:
        api, r = stack.api, redis.Redis.from_url(private_redis.url)
        # beta fills the pool: 8 gpus of its quota, 16 borrowed (its later two jobs)
        held = []
        for n in range(3):
            held.append(api.submit_ok("beta", gpu_job(unique(f"borrow{n}"), 8, "12s"))["id"])
            api.wait_status("beta", held[-1], {"running"}, 60)
        (uid,) = [o["metadata"]["uid"] for o in stack.pytorchjobs("team-beta", held[2])]
        mine = api.submit_ok("alpha", gpu_job(unique("entitled"), 8, "4s"))["id"]
        rec = api.wait_status("alpha", mine, {"running", "succeeded"}, 60)
        assert rec["status"] in ("running", "succeeded")
        victim = api.record("beta", held[2])  # the latest admitted borrowed job
        assert victim["preemptions"] == 1
        assert victim["status"] in ("queued", "dispatching", "created", "running")
        (cond,) = [c for c in victim["conditions"] if c["type"] == "Preempted"]
        assert cond["reason"] == "ReclaimQuota" and "alpha" not in cond["message"]
        assert api.record("beta", held[0])["preemptions"] == 0  # within beta's quota
        assert api.record("beta", held[1])["preemptions"] == 0  # one victim was enough
        assert r.hget(keys.job_key(held[2]), "preempted_by") is not None
        # A third 8-gpu job of alpha would borrow (16 is its quota): it reclaims nothing.
        more = api.submit_ok("alpha", gpu_job(unique("over"), 8, "2s"))["id"]
        second = api.submit_ok("alpha", gpu_job(unique("again"), 8, "2s"))["id"]
        api.wait_status("alpha", more, {"running", "succeeded"}, 60)
        assert api.record("beta", held[1])["preemptions"] == 1  # the other borrowed one
        assert api.record("beta", held[0])["preemptions"] == 0
        api.wait_status("alpha", second, {"succeeded"}, 90)
        # Room returns as alpha's jobs end: beta's jobs resume on their same PyTorchJobs.
        final = api.wait_status("beta", held[2], {"succeeded", "failed"}, 120)
        assert final["status"] == "succeeded" and final["preemptions"] == 1
        assert final["run_seconds"] > 0
        (after,) = stack.pytorchjobs("team-beta", held[2])
        assert after["metadata"]["uid"] == uid and not after["spec"]["runPolicy"].get("suspend")
        assert "preempted" in stack.log("watcher").lower()
    finally:
        stack.close()


def test_within_team_a_higher_priority_job_preempts_the_lowest(
    tmp_path, kubeconfig, private_redis, pool
):
    stack = make_stack(tmp_path, kubeconfig, private_redis.url, pool,
                       alpha={"gpu": 16, "preemption": {"within_team": "LowerPriority"}},
                       beta={"gpu": 8, "preemption": {"reclaim": "Never"}})  # fmt: skip
    try:
        api = stack.api
        low = api.submit_ok("alpha", gpu_job(unique("low"), 8, "600s", priority=1))["id"]
        lower = api.submit_ok("alpha", gpu_job(unique("lower"), 8, "600s", priority=0))["id"]
        for job_id in (low, lower):
            api.wait_status("alpha", job_id, {"running"}, 60)
        same = api.submit_ok("alpha", gpu_job(unique("same"), 8, "2s", priority=0))["id"]
        urgent = api.submit_ok("alpha", gpu_job(unique("urgent"), 8, "600s", priority=5))["id"]
        api.wait_status("alpha", urgent, {"running"}, 60)
        victim = api.record("alpha", lower)
        (cond,) = [c for c in victim["conditions"] if c["type"] == "Preempted"]
        assert cond["reason"] == "WithinTeamPriority" and f"job {urgent}" in cond["message"]
        wait_until("the victim's PyTorchJob suspended",
                   lambda: suspended(stack, "team-alpha", lower), 30)  # fmt: skip
        assert api.record("alpha", low)["preemptions"] == 0
        # an equal priority never preempts: `same` waits behind the running ones
        rec = api.record("alpha", same)
        assert rec["status"] == "queued" and rec["preemptions"] == 0
        assert api.record("alpha", lower)["status"] == "queued"
    finally:
        stack.close()
