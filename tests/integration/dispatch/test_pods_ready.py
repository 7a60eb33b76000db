"""The pods-ready guard on the real scheduler and training operator (Kueue's waitForPodsReady):
admission proved a gang fits, but the node changes before its pods are scheduled (a second
NoSchedule taint lands between admission and the PyTorchJob's creation, while the dispatch is
paused by TRAINQ_TEST_HOOK), so its replicas stay Pending. After `pods_ready_timeout_seconds`
the watcher suspends the PyTorchJob (its pods go), the job goes back to its queue with reason
PodsNotReady and gives back its reservation; once the node takes pods again it is admitted
again and its same PyTorchJob is resumed and runs. With no re-queues left it fails instead."""

import json
import time

import pytest
import redis
from kubernetes import client

from tests.support import trainer_v2
from tests.support.nodes import POOL_KEY, create_kwok_node, delete_nodes, pool_taint, pool_teams
from tests.support.stack import Stack, unique, wait_until
from wrapper.redis import keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
BLOCK = {"key": "trainq.dev/test-blocked", "value": "yes", "effect": "NoSchedule"}


@pytest.fixture
def node(kube_api):
    """One kwok node of 8 gpus only this test's team selects and tolerates; deleted after."""
    core = client.CoreV1Api(kube_api)
    pool_id = unique("ready")
    alloc = {"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": "8", "pods": "110"}
    create_kwok_node(core, pool_id, alloc, {POOL_KEY: pool_id},
                     [pool_taint(pool_id)])  # fmt: skip
    yield pool_id
    delete_nodes(core, [pool_id])


def set_taints(kube_api, name: str, blocked: bool) -> None:
    taints = [pool_taint(name)] + ([BLOCK] if blocked
                                                                           else [])  # fmt: skip
    client.CoreV1Api(kube_api).patch_node(
        name, [{"op": "replace", "path": "/spec/taints", "value": taints}]
    )


def make_stack(tmp_path, kubeconfig, redis_url, pool_id, requeues: int, backend: str) -> Stack:
    quota = {"max_running_jobs": 10, "cpu": "32", "memory": "256Gi", "gpu": 8}
    teams = pool_teams(pool_id, ("alpha",), quota)
    admission = {"pods_ready_timeout_seconds": 3, "pods_ready_backoff_seconds": 1,
                 "pods_ready_backoff_max_seconds": 2, "pods_ready_requeues": requeues}  # fmt: skip
    return Stack(tmp_path / "stack", redis_url, kubeconfig, backend, teams=teams,
                 admission=admission)  # fmt: skip


def gang(name: str) -> dict:
    return {"name": name, "image": "docker.io/library/busybox:1.36", "command": ["true"],
            "workers": 1, "resources": {"cpu": "1", "memory": "1Gi", "gpu": 4},
            "annotations": {"trainq.dev/sim-run-for": "2s"}}  # fmt: skip


def pods(kube_api, stack: Stack, job_id: int) -> list:
    selector = f"trainq.dev/job-id={job_id},trainq.dev/instance={stack.instance}"
    return (
        client.CoreV1Api(kube_api).list_namespaced_pod("team-alpha", label_selector=selector).items
    )


def usage(r: redis.Redis) -> dict:
    raw = r.hgetall(keys.team_usage("alpha"))
    return {k: int(raw.get(k.encode()) or 0) for k in ("jobs", "gpu")}


def admit_then_block(stack: Stack, kube_api, node: str, marker) -> int:
    """Submit the gang; while its dispatch is paused after admission, block the node."""
    job_id = stack.api.submit_ok("alpha", gang(unique("gang")))["id"]
    wait_until("the dispatch to pause after admission", marker.exists, 60)
    set_taints(kube_api, node, blocked=True)
    marker.unlink()
    return job_id


@pytest.fixture(params=trainer_v2.BACKENDS)
def backend(request) -> str:
    if request.param == "trainjob":
        trainer_v2.require()
    return request.param


@pytest.fixture
def started(tmp_path, kubeconfig, kube_api, private_redis, node, backend, request):
    stack = make_stack(tmp_path, kubeconfig, private_redis.url, node, request.param, backend)
    marker = tmp_path / "paused"
    stack.start_api()
    stack.start_watcher()
    wait_until("the node in the cache", lambda: redis.Redis.from_url(
        private_redis.url).hexists(keys.CACHED_NODES, node), 30)  # fmt: skip
    stack.start_worker("w1", {"TRAINQ_TEST_HOOK": f"before-create:{marker}"})
    try:
        yield stack, marker
    finally:
        stack.close()


@pytest.mark.parametrize("started", [2], indirect=True)
def test_a_gang_whose_pods_stay_pending_is_suspended_requeued_and_resumed(
    started, node, kube_api, private_redis
):
    stack, marker = started
    api, r = stack.api, redis.Redis.from_url(private_redis.url)
    job_id = admit_then_block(stack, kube_api, node, marker)
    wait_until("its pods, pending", lambda: len(pods(kube_api, stack, job_id)) == 2, 60)
    assert all(not p.spec.node_name for p in pods(kube_api, stack, job_id))

    def requeued():
        rec = api.record("alpha", job_id)
        return rec if rec["status"] == "queued" and rec["reason"] == "PodsNotReady" else None

    rec = wait_until("the guard to re-queue it", requeued, 30)
    # (the API shows a queued job's wait: the record keeps what happened)
    assert rec["pending_reason"] in ("WaitingForBackoff", "ExceedsPoolCapacity")
    assert json.loads(r.hget(keys.job_key(job_id), "message")).startswith(
        "0 of 2 replicas were running 3s after admission; re-queued (1 of 2), tries again in 1s"
    )
    (pj,) = stack.pytorchjobs("team-alpha", job_id)
    assert stack.backend.suspended(pj) is True
    wait_until("the suspended job's pods to go", lambda: pods(kube_api, stack, job_id) == [], 60)
    assert usage(r) == {"jobs": 0, "gpu": 0}  # its reservation given back

    # The node takes pods again: admitted again, the same PyTorchJob resumed, and it runs.
    set_taints(kube_api, node, blocked=False)
    wait_until("the re-dispatch to pause", marker.exists, 60)
    marker.unlink()
    done = api.wait_status("alpha", job_id, {"succeeded"}, 120)
    assert done["status"] == "succeeded"
    (again,) = stack.pytorchjobs("team-alpha", job_id)  # exactly one, the same one
    assert again["metadata"]["uid"] == pj["metadata"]["uid"]
    assert stack.backend.suspended(again) is False


@pytest.mark.parametrize("started", [0], indirect=True)
def test_with_no_requeues_left_a_gang_whose_pods_stay_pending_fails(
    started, node, kube_api, private_redis
):
    stack, marker = started
    job_id = admit_then_block(stack, kube_api, node, marker)
    failed = stack.api.wait_status("alpha", job_id, {"failed"}, 60)
    assert failed["reason"] == "PodsNotReady"
    assert failed["message"].startswith(
        "never had all its replicas running within 3s of admission after 0 re-queues"
    )
    wait_until("its PyTorchJob deleted", lambda: stack.pytorchjobs("team-alpha", job_id) == [], 60)
    wait_until("its reservation given back once its pods are gone", lambda: usage(
        redis.Redis.from_url(private_redis.url)) == {"jobs": 0, "gpu": 0}, 60)  # fmt: skip


@pytest.mark.parametrize("started", [2], indirect=True)
def test_cancelling_a_requeued_gang_deletes_its_suspended_pytorchjob(
    started, node, kube_api, private_redis
):
    stack, marker = started
    api = stack.api
    job_id = admit_then_block(stack, kube_api, node, marker)
    wait_until("the guard to re-queue it", lambda: api.record("alpha", job_id)["reason"] ==
               "PodsNotReady", 30)  # fmt: skip
    assert stack.backend.suspended(stack.pytorchjobs("team-alpha", job_id)[0]) is True
    # Settled: no pods, and no status change left for the watcher to see.
    wait_until("the suspended job's pods to go", lambda: pods(kube_api, stack, job_id) == [], 60)
    time.sleep(3)
    assert api.cancel("alpha", job_id).status_code == 202
    assert api.wait_status("alpha", job_id, {"cancelled"}, 60)["reason"] == "Cancelled"
    wait_until("its PyTorchJob deleted", lambda: stack.pytorchjobs("team-alpha", job_id) == [], 60)
