"""Smoke test of the local control plane: proves the bed is a real Kubernetes with the real
Kubeflow training operator, not a stand-in. Talks to it only through the kubernetes client and
kubectl, exactly as trainq and an operator would."""

from __future__ import annotations

import json
import subprocess
import uuid

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from tests.support.stack import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

GROUP, VERSION, PLURAL = "kubeflow.org", "v1", "pytorchjobs"


def _replica(replicas: int, annotations: dict[str, str], restart_policy: str) -> dict:
    return {
        "replicas": replicas,
        "restartPolicy": restart_policy,
        "template": {
            "metadata": {"annotations": annotations},
            "spec": {
                "containers": [
                    {
                        "name": "pytorch",
                        "image": "docker.io/library/busybox:1.36",
                        "command": ["sh", "-c", "echo training"],
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                    }
                ]
            },
        },
    }


def pytorchjob(name: str, workers: int, annotations: dict[str, str], restart_policy="OnFailure"):
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "PyTorchJob",
        "metadata": {"name": name, "labels": {"smoke": "true"}},
        "spec": {
            "runPolicy": {"cleanPodPolicy": "None"},
            "pytorchReplicaSpecs": {
                "Master": _replica(1, annotations, restart_policy),
                "Worker": _replica(workers, annotations, restart_policy),
            },
        },
    }


@pytest.fixture
def namespace(kube_api):
    core = client.CoreV1Api(kube_api)
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    # Pods need the namespace's default ServiceAccount, which the controller-manager creates.
    wait_until(
        "default service account",
        lambda: any(
            sa.metadata.name == "default" for sa in core.list_namespaced_service_account(name).items
        ),
        timeout=30,
    )
    yield name
    core.delete_namespace(name)


def get_job(custom, ns, name):
    return custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)


def conditions(job) -> dict[str, str]:
    return {c["type"]: c["status"] for c in job.get("status", {}).get("conditions", [])}


def active(job, replica: str) -> int | None:
    return job.get("status", {}).get("replicaStatuses", {}).get(replica, {}).get("active")


def job_when(custom, ns, name, predicate):
    """A poller for wait_until: the job once predicate(job) holds, else None."""

    def poll():
        job = get_job(custom, ns, name)
        return job if predicate(job) else None

    return poll


def test_pytorchjob_runs_to_success_with_operator_pods_and_services(
    kube_api, namespace, kubectl_bin, kubeconfig
):
    custom = client.CustomObjectsApi(kube_api)
    core = client.CoreV1Api(kube_api)
    name = "smoke-ok"
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, pytorchjob(name, 2, {"trainq.dev/sim-run-for": "6s"})
    )
    selector = f"training.kubeflow.org/job-name={name}"

    # The operator expands the job into 1 master + 2 worker pods and a headless service each.
    def bound_pods():
        pods = core.list_namespaced_pod(namespace, label_selector=selector).items
        return pods if len(pods) == 3 and all(p.spec.node_name for p in pods) else None

    pods = wait_until("3 pods bound to fake nodes", bound_pods)
    assert len(pods) == 3
    assert all(p.spec.node_name.startswith("kwok-node-") for p in pods)
    assert sorted(p.metadata.name for p in pods) == [
        f"{name}-master-0",
        f"{name}-worker-0",
        f"{name}-worker-1",
    ]
    services = core.list_namespaced_service(namespace, label_selector=selector).items
    assert sorted(s.metadata.name for s in services) == sorted(p.metadata.name for p in pods)
    assert all(s.spec.cluster_ip == "None" for s in services)

    ranks = {}
    for pod in pods:
        env = {e.name: e.value for e in pod.spec.containers[0].env}
        assert env["MASTER_ADDR"] == f"{name}-master-0"
        assert env["MASTER_PORT"] == "23456"
        assert env["WORLD_SIZE"] == "3"
        ranks[pod.metadata.name] = env["RANK"]
    assert ranks == {f"{name}-master-0": "0", f"{name}-worker-0": "1", f"{name}-worker-1": "2"}

    # While the pods run, the operator reports Running with active replica counts.
    running = wait_until(
        "Running with 1 master and 2 workers active",
        job_when(
            custom,
            namespace,
            name,
            lambda j: conditions(j).get("Running") == "True"
            and active(j, "Master") == 1
            and active(j, "Worker") == 2,
        ),
    )
    assert conditions(running)["Created"] == "True"

    done = wait_until(
        "Succeeded",
        job_when(custom, namespace, name, lambda j: conditions(j).get("Succeeded") == "True"),
    )
    conds = conditions(done)
    assert conds["Created"] == "True" and conds["Running"] == "False"
    order = [c["type"] for c in done["status"]["conditions"]]
    assert order.index("Created") < order.index("Running") < order.index("Succeeded")
    assert done["status"]["replicaStatuses"]["Master"].get("succeeded") == 1
    assert "Worker" in done["status"]["replicaStatuses"]

    # kubectl reads the same cluster.
    out = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "get", "pytorchjobs", "-A", "-o", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    listed = {(i["metadata"]["namespace"], i["metadata"]["name"]) for i in json.loads(out)["items"]}
    assert (namespace, name) in listed
    table = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "get", "pytorchjobs", "-A"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert any(
        line.split()[:2] == [namespace, name] and "Succeeded" in line for line in table.splitlines()
    )


def test_failing_pods_fail_the_job_with_the_operators_message(kube_api, namespace):
    custom = client.CustomObjectsApi(kube_api)
    core = client.CoreV1Api(kube_api)
    name = "smoke-fail"
    annotations = {
        "trainq.dev/sim-run-for": "1s",
        "trainq.dev/sim-outcome": "fail",
        "trainq.dev/sim-exit-code": "3",
    }
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, pytorchjob(name, 1, annotations, restart_policy="Never")
    )
    failed = wait_until(
        "Failed",
        job_when(custom, namespace, name, lambda j: conditions(j).get("Failed") == "True"),
    )
    cond = next(c for c in failed["status"]["conditions"] if c["type"] == "Failed")
    assert cond["reason"] == "PyTorchJobFailed"
    assert name in cond["message"] and "failed" in cond["message"].lower()

    # kwok works from its informer cache: under load it can re-apply a stale "ready" stage after
    # the fail stage, which then ends the pod again: the pod's end state is waited for.
    def master_failed():
        pod = core.read_namespaced_pod(f"{name}-master-0", namespace)
        return pod if pod.status.phase == "Failed" else None

    master = wait_until("master pod Failed", master_failed)
    assert master.status.container_statuses[0].state.terminated.exit_code == 3


def test_deleting_a_job_garbage_collects_its_pods(kube_api, namespace):
    custom = client.CustomObjectsApi(kube_api)
    core = client.CoreV1Api(kube_api)
    name = "smoke-gc"
    custom.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, pytorchjob(name, 1, {"trainq.dev/sim-run-for": "1h"})
    )
    selector = f"training.kubeflow.org/job-name={name}"
    wait_until(
        "2 pods",
        lambda: len(core.list_namespaced_pod(namespace, label_selector=selector).items) == 2,
    )
    custom.delete_namespaced_custom_object(
        GROUP,
        VERSION,
        namespace,
        PLURAL,
        name,
        body=client.V1DeleteOptions(propagation_policy="Background"),
    )
    wait_until(
        "pods and services gone",
        lambda: not core.list_namespaced_pod(namespace, label_selector=selector).items
        and not core.list_namespaced_service(namespace, label_selector=selector).items,
    )
    with pytest.raises(ApiException) as err:
        get_job(custom, namespace, name)
    assert err.value.status == 404
