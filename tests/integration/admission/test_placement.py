"""Placement-true admission against the real scheduler, on nodes of the test's own (kwok nodes
with a label and a taint only this test's teams select and tolerate, so other tests' pods never
land there): a gang that fits in sum but not on nodes waits instead of starting half-placed, and
starts whole once a node has room; a replica larger than every node of the pool is refused."""

import json

import pytest
import redis
from kubernetes import client

from tests.support.nodes import POOL_KEY, create_kwok_node, delete_nodes, pool_taint, pool_teams
from tests.support.stack import Stack, unique, wait_until
from wrapper.redis import keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def pool(kube_api, request):
    """kwok nodes of this test's pool: (how many, gpus each), (3, 8) unless parametrized;
    deleted after."""
    core = client.CoreV1Api(kube_api)
    pool_id = unique("pool")
    count, gpus = getattr(request, "param", (3, 8))
    names = [f"{pool_id}-{i}" for i in range(count)]
    gpus = str(gpus)
    alloc = {"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": gpus, "pods": "110"}
    taint = pool_taint(pool_id)
    for name in names:
        create_kwok_node(core, name, alloc, {POOL_KEY: pool_id}, [taint])
    yield pool_id, names
    delete_nodes(core, names)


@pytest.fixture
def stack(tmp_path, kubeconfig, kube_api, private_redis, pool, request):
    pool_id, _ = pool
    workers = getattr(request, "param", 2)
    quota = {"max_running_jobs": 10, "cpu": "96", "memory": "768Gi", "gpu": 24}
    teams = pool_teams(pool_id, ("alpha", "beta"), quota)
    s = Stack(tmp_path / "stack", private_redis.url, kubeconfig, teams=teams)
    s.start_api()
    s.start_watcher()
    for n in range(workers):
        s.start_worker(f"w{n}")
    try:
        yield s
    finally:
        s.close()


def gpu_job(name: str, gpu: int, workers: int = 0, run_for: str = "600s") -> dict:
    return {"name": name, "image": "docker.io/library/busybox:1.36", "command": ["true"],
            "workers": workers, "resources": {"cpu": "1", "memory": "1Gi", "gpu": gpu},
            "annotations": {"trainq.dev/sim-run-for": run_for}}  # fmt: skip


def pool_gpus_used(r: redis.Redis, names: list[str]) -> int:
    raw = r.hmget(keys.CACHED_NODES, names)
    return sum(json.loads(n)["used"]["gpu"] for n in raw if n)


def test_a_gang_fitting_only_in_sum_waits_for_placement_then_starts_whole(
    stack, pool, private_redis, kube_api
):
    _, names = pool
    api, r = stack.api, redis.Redis.from_url(private_redis.url)
    holders = [api.submit_ok("alpha", gpu_job(unique("hold"), 5))["id"] for _ in range(2)]
    for job_id in holders:
        api.wait_status("alpha", job_id, {"running"}, timeout=90)
    wait_until("alpha's pods in the node cache", lambda: pool_gpus_used(r, names) == 10, 30)
    # 3 + 3 + 8 gpus free: 12 fit in sum, but only one node has 6.
    gang = api.submit_ok("beta", gpu_job(unique("gang"), 6, workers=1, run_for="2s"))["id"]

    def waits_for_placement():
        rec = api.record("beta", gang)
        return rec if rec.get("pending_reason") == "WaitingForPlacement" else None

    rec = wait_until("the gang to wait for placement", waits_for_placement, 30)
    assert rec["status"] == "queued" and "2 replicas of 6 gpu" in rec["message"]
    assert stack.pytorchjobs("team-beta", gang) == []  # nothing half-placed
    # A node frees up: the gang starts, every replica placed by the real scheduler.
    api.cancel("alpha", holders[0])
    api.wait_status("beta", gang, {"running", "succeeded"}, timeout=120)
    pods = bound_pods(client.CoreV1Api(kube_api), stack, "team-beta", gang, 2)
    nodes = [p.spec.node_name for p in pods]
    assert set(nodes) <= set(names)
    # Each replica type is pinned to the nodes admission counted it on, and bound there.
    (obj,) = stack.pytorchjobs("team-beta", gang)
    assert sorted(nodes) == sorted(pinned_nodes(obj))


def bound_pods(core: client.CoreV1Api, stack: Stack, namespace: str, job_id: str, count: int):
    """The job's pods once all `count` are bound. The job reads running when its Master runs
    (the operator's rule), which can come before the watcher has lifted a Worker's placement
    gate, so where each replica landed is read only once every one has a node."""

    def bound():
        pods = core.list_namespaced_pod(namespace, label_selector=f"trainq.dev/job-id={job_id},"
                                        f"trainq.dev/instance={stack.instance}").items  # fmt: skip
        return pods if len(pods) == count and all(p.spec.node_name for p in pods) else None

    return wait_until(f"all {count} replicas bound", bound, 60)


def pinned_nodes(obj: dict) -> list[str]:
    """The nodes a PyTorchJob's replica types are pinned to (one node per affinity term)."""
    out = []
    for replicas in obj["spec"]["pytorchReplicaSpecs"].values():
        affinity = replicas["template"]["spec"]["affinity"]
        for term in affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
                "nodeSelectorTerms"]:  # fmt: skip
            (match,) = term["matchFields"]
            assert match["key"] == "metadata.name" and match["operator"] == "In"
            out += match["values"]
    return out


def test_a_gang_over_three_nodes_is_pinned_to_them_and_runs_whole(stack, pool, kube_api):
    """Whole-node replicas: the Workers' one template is pinned to two nodes (two terms), and
    the apiserver, the operator and the scheduler take it."""
    _, names = pool
    gang = stack.api.submit_ok("alpha", gpu_job(unique("wide"), 8, workers=2))["id"]
    stack.api.wait_status("alpha", gang, {"running"}, timeout=120)
    (obj,) = stack.pytorchjobs("team-alpha", gang)
    assert sorted(pinned_nodes(obj)) == sorted(names)
    pods = bound_pods(client.CoreV1Api(kube_api), stack, "team-alpha", gang, 3)
    assert sorted(p.spec.node_name for p in pods) == sorted(names)


@pytest.mark.parametrize("pool", [(3, 4)], indirect=True)
def test_each_replica_is_bound_to_the_very_node_counted_for_it(stack, pool, private_redis,
                                                               kube_api):  # fmt: skip
    """A replica per 4-gpu node: the Workers' template pins them to their two nodes as a set,
    and the placement gate holds each pod until the watcher narrowed it to its own node
    (Worker i: the node counted for it), so the scheduler binds each exactly there."""
    _, names = pool
    gang = stack.api.submit_ok("alpha", gpu_job(unique("exact"), 4, workers=2))["id"]
    stack.api.wait_status("alpha", gang, {"running"}, timeout=120)
    raw = redis.Redis.from_url(private_redis.url).hget(keys.PLACEMENTS, gang)
    counted = json.loads(raw)["nodes"]
    assert sorted(counted) == sorted(names)
    pods = bound_pods(client.CoreV1Api(kube_api), stack, "team-alpha", gang, 3)
    where = {
        (
            p.metadata.labels["training.kubeflow.org/replica-type"],
            int(p.metadata.labels["training.kubeflow.org/replica-index"]),
        ): p
        for p in pods
    }
    assert sorted(where) == [("master", 0), ("worker", 0), ("worker", 1)]
    for (kind, index), pod in where.items():
        own = counted[0 if kind == "master" else 1 + index]
        assert pod.spec.node_name == own
        assert not pod.spec.scheduling_gates
        terms = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
        for term in terms.node_selector_terms:  # every term narrowed to its own node
            assert [own] in [f.values for f in term.match_fields]


@pytest.mark.parametrize("pool", [(3, 4)], indirect=True)
def test_a_replica_larger_than_every_node_of_the_pool_is_refused(stack, pool, private_redis):
    _, names = pool
    r = redis.Redis.from_url(private_redis.url)
    wait_until("the pool's nodes in the cache",
               lambda: all(r.hmget(keys.CACHED_NODES, names)), 30)  # fmt: skip
    # 6 gpus: within the team's quota and the pool's 12 in sum, but no node has more than 4.
    refused = stack.api.submit("alpha", gpu_job(unique("big"), 6))
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["detail"].startswith("The job can never be admitted")
    assert body["errors"] == [
        {
            "field": "resources.gpu",
            "message": "each replica needs 6 gpu, 2 "
            "more than the largest node in the cluster offers (4)",
        }
    ]
    assert stack.api.submit("alpha", gpu_job(unique("ok"), 4, workers=2)).status_code == 202


@pytest.mark.parametrize(("pool", "stack"), [((1, 8), 4)], indirect=True)
def test_four_workers_racing_for_the_last_node_never_over_commit_it(stack, pool, private_redis):
    """One 8-gpu node, four workers, two teams submitting 8-gpu and 4-gpu jobs: what admission
    counts on the node (bound pods' requests + replicas counted there and not bound yet) never
    exceeds its 8 gpus, and what the scheduler bound never does either."""
    _, (name,) = pool
    api, r = stack.api, redis.Redis.from_url(private_redis.url)
    wait_until("the node in the cache", lambda: r.hexists(keys.CACHED_NODES, name), 30)
    ids = []
    for n in range(6):
        for team in ("alpha", "beta"):
            body = gpu_job(unique(team[0]), 8 if n % 2 else 4, run_for="1s")
            ids.append((team, api.submit_ok(team, body)["id"]))
    over, peak = [], [0]

    def counted() -> tuple[int, int]:
        with r.pipeline(transaction=True) as pipe:  # one consistent reading
            pipe.hget(keys.CACHED_NODES, name)
            pipe.hgetall(keys.CACHED_BOUND)
            pipe.hgetall(keys.PLACEMENTS)
            raw_node, raw_bound, placements = pipe.execute()
        bound_map = {k.decode(): json.loads(v) for k, v in raw_bound.items()}
        used = json.loads(raw_node)["used"]["gpu"] if raw_node else 0
        unbound = 0
        for job_id, raw in placements.items():
            where = json.loads(raw)
            on = bound_map.get(job_id.decode(), {})
            unbound += max(where["nodes"].count(name) - on.get(name, 0), 0) * where["each"][2]
        return used, unbound

    def sample():
        used, unbound = counted()
        peak[0] = max(peak[0], used + unbound)
        if used + unbound > 8 or used > 8:
            over.append((used, unbound))
        return all(api.record(t, i)["status"] == "succeeded" for t, i in ids)

    wait_until("every job to succeed", sample, timeout=180, interval=0.05)
    assert not over, over[:5]
    assert peak[0] == 8  # the node was used fully at times


@pytest.mark.parametrize("pool", [(2, 8)], indirect=True)
def test_capacity_that_shrinks_and_returns(stack, pool, private_redis, kube_api):
    """A gang of two 8-gpu replicas waits while alpha holds one of two nodes; with the other
    node cordoned it can never fit (ExceedsPoolCapacity: it holds nothing); uncordoned, it
    waits again and starts once the node alpha held is free."""
    _, names = pool
    api, core = stack.api, client.CoreV1Api(kube_api)
    holder = api.submit_ok("alpha", gpu_job(unique("hold"), 8))["id"]
    api.wait_status("alpha", holder, {"running"}, timeout=90)
    gang = api.submit_ok("beta", gpu_job(unique("gang"), 8, workers=1, run_for="2s"))["id"]

    def reason(expected):
        def check():
            rec = api.record("beta", gang)
            return rec if rec.get("pending_reason") == expected else None

        return check

    wait_until("the gang to wait for capacity", reason("WaitingForCapacity"), 30)
    bound = {p.spec.node_name for p in core.list_namespaced_pod(
        "team-alpha", label_selector=f"trainq.dev/job-id={holder}").items}  # fmt: skip
    other = next(n for n in names if n not in bound)
    core.patch_node(other, {"spec": {"unschedulable": True}})
    rec = wait_until("the gang to exceed the pool", reason("ExceedsPoolCapacity"), 30)
    assert "16 gpu" in rec["message"] and "8 in all" in rec["message"]
    core.patch_node(other, {"spec": {"unschedulable": False}})
    wait_until("the gang to wait for capacity again", reason("WaitingForCapacity"), 30)
    api.cancel("alpha", holder)
    api.wait_status("beta", gang, {"running", "succeeded"}, timeout=120)
