"""The watcher's node and pod cache against the real control plane: a node of its own (a kwok
node with a taint only these pods tolerate, so no other test's pods land there and no team's
pool includes it), pods the real scheduler binds to it, and what the cache says of them."""

import json
import time

import pytest
import redis
from kubernetes import client

from queue_workers.kube.client import Kube
from queue_workers.kube.nodes import refresh
from tests.support.nodes import create_kwok_node, delete_nodes
from tests.support.stack import unique, wait_until
from wrapper.admission.store import AdmissionStore
from wrapper.config import load_config
from wrapper.jobs.store import JobStore
from wrapper.redis import connect, keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

TAINT_KEY = "trainq.dev/node-cache-test"
GI, MI = 2**30, 2**20
NAMESPACE = "default"
ZERO = {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}


@pytest.fixture
def core(kube_api) -> client.CoreV1Api:
    return client.CoreV1Api(kube_api)


@pytest.fixture
def test_node(core):
    name = unique("cache-node")
    allocatable = {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "2", "pods": "10"}
    taint = {"key": TAINT_KEY, "value": name, "effect": "NoSchedule"}
    create_kwok_node(core, name, allocatable, taints=[taint])
    yield name
    delete_nodes(core, [name])


def pod_body(name, node, labels=None, init=None, **requests):
    limits = {"nvidia.com/gpu": requests["nvidia.com/gpu"]} if "nvidia.com/gpu" in requests else {}
    spec = {
        "nodeSelector": {"kubernetes.io/hostname": node},
        "tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
        "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "main", "image": "docker.io/library/busybox:1.36",
                        "resources": {"requests": requests, "limits": limits}}],
    }  # fmt: skip
    if init:
        spec["initContainers"] = [{"name": "init", "image": "docker.io/library/busybox:1.36",
                                   "resources": {"requests": init}}]  # fmt: skip
    return {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}


def trainq_labels(instance, job_id):
    return {"app.kubernetes.io/managed-by": "trainq", "trainq.dev/instance": instance,
            "trainq.dev/team": "alpha", "trainq.dev/job-id": str(job_id)}  # fmt: skip


def cached(client_: redis.Redis, node: str):
    """The node's cache entry and the whole `bound` map (None, {} while not cached)."""
    raw = client_.hget(keys.CACHED_NODES, node)
    bound = {k.decode(): json.loads(v) for k, v in client_.hgetall(keys.CACHED_BOUND).items()}
    return (json.loads(raw) if raw else None), bound


def used_becomes(client_, node, expected, what, timeout=15.0):
    wait_until(what, lambda: (cached(client_, node)[0] or {}).get("used") == expected,
               timeout, interval=0.02)  # fmt: skip


def bound_to(core, name, node):
    pod = core.read_namespaced_pod(name, NAMESPACE)
    return pod.spec.node_name == node


def delete_pods(core, names):
    for name in names:
        try:
            core.delete_namespaced_pod(name, NAMESPACE, grace_period_seconds=0)
        except client.ApiException as exc:
            if exc.status != 404:
                raise


def test_the_cache_follows_what_bound_pods_request_on_each_node(private_stack, core, test_node):
    stack = private_stack
    stack.start_watcher()
    r = redis.Redis.from_url(stack.redis_url)
    used_becomes(r, test_node, ZERO, "the new node in the cache", timeout=60)
    entry, _ = cached(r, test_node)
    assert (entry["cpu"], entry["memory"], entry["gpu"], entry["pods"]) == (4000, 8 * GI, 2, 10)

    gpu_pod, ours, theirs = unique("gpu"), unique("ours"), unique("theirs")
    try:
        version = int(r.get(keys.ADMISSION_VERSION) or 0)
        # Its init container asks for more cpu than its container: the larger counts.
        core.create_namespaced_pod(NAMESPACE, pod_body(
            gpu_pod, test_node, init={"cpu": "1500m", "memory": "256Mi"},
            cpu="1", memory="1Gi", **{"nvidia.com/gpu": "1"}))  # fmt: skip
        wait_until("the scheduler to bind the pod", lambda: bound_to(core, gpu_pod, test_node))
        bound_at = time.monotonic()
        one = {"cpu": 1500, "memory": GI, "gpu": 1, "pods": 1}
        used_becomes(r, test_node, one, "the pod's request in the cache")
        assert time.monotonic() - bound_at < 2.0  # the watch's latency plus the debounce
        assert int(r.get(keys.ADMISSION_VERSION)) > version  # a worker re-plans

        job_id = 4242
        for name, instance in ((ours, stack.instance), (theirs, "someoneelse")):
            labels = trainq_labels(instance, job_id)
            core.create_namespaced_pod(
                NAMESPACE, pod_body(name, test_node, labels, cpu="100m", memory="64Mi")
            )
        three = {"cpu": 1700, "memory": GI + 128 * MI, "gpu": 1, "pods": 3}
        used_becomes(r, test_node, three, "all three pods in the cache")
        # Only this instance's pod says where its job runs; the other's only uses the node.
        assert cached(r, test_node)[1].get(str(job_id)) == {test_node: 1}
        _refresh_agrees(stack, test_node)

        delete_pods(core, [gpu_pod, ours, theirs])
        used_becomes(r, test_node, ZERO, "the pods gone from the cache", timeout=60)
        assert str(job_id) not in cached(r, test_node)[1]
    finally:
        delete_pods(core, [gpu_pod, ours, theirs])
    core.delete_node(test_node)
    wait_until("the deleted node gone from the cache",
               lambda: cached(r, test_node)[0] is None, 30)  # fmt: skip


def _refresh_agrees(stack, node):
    """A worker's one-off refresh (its fallback) lists the same picture the watcher keeps."""
    url = stack.redis_url.rsplit("/", 1)[0] + "/1"  # another DB of the stack's own Redis
    redis.Redis.from_url(url).flushdb()
    config = load_config(stack.config_path)
    store = JobStore(connect(url), [t.name for t in config.teams])
    refresh(Kube(stack.kubeconfig), AdmissionStore(store, config))
    watched = cached(redis.Redis.from_url(stack.redis_url), node)
    listed = cached(redis.Redis.from_url(url), node)
    assert listed[0] == watched[0]
    assert {k: v for k, v in listed[1].items() if node in v} == {
        k: v for k, v in watched[1].items() if node in v
    }


def test_write_nodes_signals_only_a_change(scratch_url, local_config):
    store = JobStore(connect(scratch_url), [t.name for t in local_config.teams])
    admissions = AdmissionStore(store, local_config)
    r = redis.Redis.from_url(scratch_url)
    node = {"name": "n1", "labels": {}, "taints": [], "cpu": 1000, "memory": GI, "gpu": 1,
            "pods": 10, "used": dict(ZERO)}  # fmt: skip
    assert admissions.capacity_is_stale()
    assert admissions.write_nodes([node], {"7": {"n1": 1}})
    version, first = r.get(keys.ADMISSION_VERSION), admissions.nodes()[1]
    assert r.llen(keys.ADMISSION_WAKE) == 1
    time.sleep(0.01)
    assert not admissions.write_nodes([node], {"7": {"n1": 1}})
    assert r.get(keys.ADMISSION_VERSION) == version and r.llen(keys.ADMISSION_WAKE) == 1
    assert admissions.nodes()[1] > first and not admissions.capacity_is_stale()
    assert admissions.write_nodes([node], {})  # the job's pod went away
    assert int(r.get(keys.ADMISSION_VERSION)) == int(version) + 1
    assert admissions.bound() == {} and admissions.nodes()[0] == [node]


def test_a_cache_that_redis_lost_is_written_whole_again(scratch_url, local_config):
    """After Redis loses its data, the writer's next pass writes every node again (it finds
    the cache holds another count), not just a confirmation over an empty cache."""
    store = JobStore(connect(scratch_url), [t.name for t in local_config.teams])
    admissions = AdmissionStore(store, local_config)
    r = redis.Redis.from_url(scratch_url)
    node = {"name": "n1", "labels": {}, "taints": [], "cpu": 1000, "memory": GI, "gpu": 1,
            "pods": 10, "used": dict(ZERO)}  # fmt: skip
    assert admissions.write_nodes([node], {"7": {"n1": 1}})
    r.flushdb()
    assert admissions.write_nodes([node], {"7": {"n1": 1}})  # (written again: a change)
    assert admissions.nodes()[0] == [node] and admissions.bound() == {"7": {"n1": 1}}
