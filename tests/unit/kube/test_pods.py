"""What the pods bound to each node request, and where trainq's jobs have pods
(queue_workers.kube.pods)."""

import random

import pytest

from queue_workers.kube import pods
from queue_workers.kube.pods import Placed

GI, MI = 2**30, 2**20


def container(requests=None, limits=None, restart_policy=None):
    c = {"name": "c", "resources": {}}
    if requests is not None:
        c["resources"]["requests"] = requests
    if limits is not None:
        c["resources"]["limits"] = limits
    if restart_policy is not None:
        c["restartPolicy"] = restart_policy
    return c


def pod(containers=(), init=(), node="n1", phase="Running", name="p", namespace="ns",
        labels=None, **spec):  # fmt: skip
    return {
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": {"nodeName": node, "containers": list(containers),
                 "initContainers": list(init), **spec},
        "status": {"phase": phase},
    }  # fmt: skip


def ours(job_id, instance="tq"):
    return {"app.kubernetes.io/managed-by": "trainq", "trainq.dev/instance": instance,
            "trainq.dev/job-id": str(job_id), "trainq.dev/team": "alpha"}  # fmt: skip


def req(cpu=0, memory=0, gpu=0):
    return {"cpu": cpu, "memory": memory, "gpu": gpu}


def test_containers_add_up_in_millicores_bytes_and_gpus():
    p = pod([container({"cpu": "500m", "memory": "1Gi", "nvidia.com/gpu": "2"}),
             container({"cpu": "1", "memory": "512Mi"})])  # fmt: skip
    assert pods.effective_request(p) == req(1500, GI + 512 * MI, 2)


def test_only_requests_count_and_a_limit_stands_in_for_a_missing_request():
    p = pod([container({"cpu": "250m"}, {"cpu": "4", "memory": "2Gi", "nvidia.com/gpu": "1"})])
    # cpu: the request, not the limit; memory and gpu: only limited, so requested as much.
    assert pods.effective_request(p) == req(250, 2 * GI, 1)
    assert pods.effective_request(pod([container()])) == req()
    assert pods.effective_request(pod([container({"ephemeral-storage": "1Gi"})])) == req()


def test_an_init_container_larger_than_the_containers_sets_the_request_per_resource():
    p = pod([container({"cpu": "1", "memory": "1Gi"}), container({"cpu": "1"})],
            init=[container({"cpu": "3", "memory": "256Mi"}),
                  container({"memory": "512Mi", "nvidia.com/gpu": "1"})])  # fmt: skip
    # cpu: max(1 + 1, 3); memory: max(1Gi, 512Mi); gpu: max(0, 1).
    assert pods.effective_request(p) == req(3000, GI, 1)


def test_a_sidecar_runs_beside_the_containers_and_the_init_containers_after_it():
    sidecar = container({"cpu": "500m", "memory": "128Mi"}, restart_policy="Always")
    p = pod(
        [container({"cpu": "1", "memory": "1Gi"})],
        init=[container({"cpu": "2"}), sidecar, container({"cpu": "2", "memory": "2Gi"})],
    )
    # Containers plus sidecar: 1.5 cpu, 1Gi + 128Mi; the last init container runs beside the
    # sidecar: 2.5 cpu, 2Gi + 128Mi; the first ran alone: 2 cpu.
    assert pods.effective_request(p) == req(2500, 2 * GI + 128 * MI)


def test_overhead_is_added_and_pod_level_requests_replace_the_containers_cpu_and_memory():
    p = pod([container({"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"})],
            overhead={"cpu": "100m", "memory": "64Mi"})  # fmt: skip
    assert pods.effective_request(p) == req(1100, GI + 64 * MI, 1)
    pod_level = pod([container({"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"})],
                    resources={"requests": {"cpu": "3"}, "limits": {"memory": "4Gi"}},
                    overhead={"cpu": "100m"})  # fmt: skip
    assert pods.effective_request(pod_level) == req(3100, 4 * GI, 1)


def test_only_bound_pods_that_are_not_terminal_count():
    assert pods.counts(pod(phase="Running")) and pods.counts(pod(phase="Pending"))
    assert pods.counts(pod(phase="Unknown"))
    assert not pods.counts(pod(node=None)) and not pods.counts(pod(node=""))
    assert not pods.counts(pod(phase="Succeeded")) and not pods.counts(pod(phase="Failed"))
    assert pods.placed(pod(phase="Failed"), "tq") is None


def test_placed_names_the_node_the_request_and_only_this_instances_job():
    p = pod([container({"cpu": "2", "nvidia.com/gpu": "1"})], node="n7", labels=ours(12))
    assert pods.placed(p, "tq") == Placed("n7", 2000, 0, 1, "12")
    assert pods.placed(p, "other").job is None
    unmanaged = dict(ours(12), **{"app.kubernetes.io/managed-by": "someone"})
    assert pods.placed(pod(labels=unmanaged), "tq").job is None
    assert pods.placed(pod(labels=dict(ours(12), **{"trainq.dev/job-id": "x"})), "tq").job is None


def test_sums_per_node_and_bound_replicas_per_job():
    listed = [
        pod([container({"cpu": "1", "nvidia.com/gpu": "2"})], node="a", name="m", labels=ours(1)),
        pod([container({"cpu": "1", "nvidia.com/gpu": "2"})], node="b", name="w0", labels=ours(1)),
        pod([container({"cpu": "1", "nvidia.com/gpu": "2"})], node="b", name="w1", labels=ours(1)),
        pod([container({"cpu": "1", "nvidia.com/gpu": "2"})], node="b", name="x",
            labels=ours(1, instance="other")),
        pod([container({"memory": "1Gi"})], node="a", name="sys", namespace="kube-system"),
        pod([container({"cpu": "8"})], node="a", name="done", phase="Succeeded", labels=ours(2)),
        pod([container({"cpu": "8"})], node=None, name="pending", labels=ours(3)),
    ]  # fmt: skip
    ledger = pods.ledger_of(listed, "tq")
    assert ledger.used == {
        "a": {"cpu": 1000, "memory": GI, "gpu": 2, "pods": 2},
        "b": {"cpu": 3000, "memory": 0, "gpu": 6, "pods": 3},
    }
    # Another instance's pods use the node but are not this instance's jobs.
    assert ledger.bound == {"1": {"a": 1, "b": 2}}


def test_the_ledger_moves_only_when_a_counted_figure_does():
    ledger = pods.PodLedger()
    gpu_pod = Placed("a", 1000, GI, 1, "5")
    assert ledger.apply("ns/p", gpu_pod)
    assert not ledger.apply("ns/p", gpu_pod)  # a status update: nothing counted moved
    assert not ledger.apply("ns/never-counted", None)
    assert ledger.apply("ns/p", None)
    assert ledger.used == {} and ledger.bound == {} and ledger.pods == {}
    assert ledger.reset({"ns/p": gpu_pod})
    assert not ledger.reset({"ns/p": gpu_pod})


@pytest.mark.parametrize("seed", range(20))
def test_the_ledger_kept_from_events_equals_summing_the_final_pods(seed):
    rnd = random.Random(seed)
    live: dict[str, dict] = {}
    ledger = pods.PodLedger()
    for step in range(300):
        key = f"p{rnd.randrange(40)}"
        if key in live and rnd.random() < 0.4:
            del live[key]
            ledger.apply(f"ns/{key}", None)
            continue
        p = pod([container({"cpu": f"{rnd.randrange(1, 4000)}m",
                            "nvidia.com/gpu": str(rnd.randrange(3))})],
                node=rnd.choice(["a", "b", "c", None]), name=key,
                phase=rnd.choice(["Pending", "Running", "Running", "Succeeded"]),
                labels=ours(rnd.randrange(5), rnd.choice(["tq", "other"])))  # fmt: skip
        live[key] = p
        ledger.apply(f"ns/{key}", pods.placed(p, "tq"))
        if step % 50 == 0:  # a relist of the same pods changes nothing
            again = pods.ledger_of(list(live.values()), "tq")
            assert (again.used, again.bound) == (ledger.used, ledger.bound)
    expected = pods.ledger_of(list(live.values()), "tq")
    assert ledger.used == expected.used
    assert ledger.bound == expected.bound
    assert ledger.pods == expected.pods
