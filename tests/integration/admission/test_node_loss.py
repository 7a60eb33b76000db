"""A node holding a running job's replicas is deleted (kwok nodes of the test's own, the real
scheduler and operator): the job's replicas are pinned to their counted nodes, so the watcher
suspends its PyTorchJob and sends it back to its queue (reason NodeLost, the node named), its
reservation given back; it is admitted again on the nodes left and succeeds on its same
PyTorchJob."""

import json

import pytest
import redis
from kubernetes import client

from tests.support.nodes import POOL_KEY, create_kwok_node, delete_nodes, pool_taint, pool_teams
from tests.support.stack import Stack, unique, wait_until
from wrapper.redis import keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_a_job_whose_node_is_deleted_goes_back_to_its_queue_and_runs_elsewhere(
    tmp_path, kubeconfig, kube_api, private_redis
):
    core = client.CoreV1Api(kube_api)
    pool = unique("lost")
    names = [f"{pool}-{i}" for i in range(3)]
    alloc = {"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": "8", "pods": "110"}
    for name in names:
        create_kwok_node(core, name, alloc, {POOL_KEY: pool}, [pool_taint(pool)])
    quota = {"max_running_jobs": 10, "cpu": "96", "memory": "768Gi", "gpu": 24}
    stack = Stack(tmp_path / "stack", private_redis.url, kubeconfig,
                  teams=pool_teams(pool, ("alpha",), quota))  # fmt: skip
    try:
        api = stack.start_all()
        r = redis.Redis.from_url(private_redis.url)
        body = {"name": unique("gang"), "image": "docker.io/library/busybox:1.36",
                "command": ["true"], "workers": 1,
                "resources": {"cpu": "1", "memory": "1Gi", "gpu": 8},
                "annotations": {"trainq.dev/sim-run-for": "20s"}}  # fmt: skip
        job_id = api.submit_ok("alpha", body)["id"]
        api.wait_status("alpha", job_id, {"running"}, 60)
        (before,) = stack.pytorchjobs("team-alpha", job_id)
        counted = stack_counted(r, job_id)
        assert len(set(counted)) == 2  # one 8-gpu replica per node
        delete_nodes(core, [counted[0]])

        def sent_back():
            return r.hget(keys.job_key(job_id), "node_losses") == b"1"

        wait_until("the job to be sent back to its queue", sent_back, 30)
        # (the watcher logs it just after writing the record: wait for the line, too)
        logged = f"node {counted[0]} holding its replicas was deleted"
        wait_until("the watcher to log why", lambda: logged in stack.log("watcher"), 10)
        final = api.wait_status("alpha", job_id, {"succeeded", "failed"}, 120)
        assert final["status"] == "succeeded"
        (after,) = stack.pytorchjobs("team-alpha", job_id)
        assert after["metadata"]["uid"] == before["metadata"]["uid"]  # resumed, not remade
        assert counted[0] not in stack_counted(r, job_id, allow_released=True)
    finally:
        stack.close()
        delete_nodes(core, names)


def stack_counted(r: redis.Redis, job_id: int, allow_released: bool = False) -> list[str]:
    """The nodes admission counted the job's replicas on (released: [])."""
    raw = r.hget(keys.PLACEMENTS, job_id)
    if raw is None:
        assert allow_released
        return []
    return json.loads(raw)["nodes"]
