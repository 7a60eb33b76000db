"""For the cluster tests of this directory: PyTorchJobs whose pods land on the module's node agent
(`replica`, `create_job`, `wait_job`) and the processes behind them."""

from __future__ import annotations

import os
from pathlib import Path

from kubernetes import client

from tests.support import wait_until

TAINT_KEY = "trainq.dev/local-node"


def replica(agent, script, restart_policy="Never", replicas=1, grace=5):
    return {
        "replicas": replicas,
        "restartPolicy": restart_policy,
        "template": {
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": agent.node},
                "tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
                "terminationGracePeriodSeconds": grace,
                "containers": [
                    {"name": "pytorch", "image": "local", "command": ["python", "-c", script]}
                ],
            }
        },
    }


def create_job(kube_api, namespace, name, specs):
    body = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"pytorchReplicaSpecs": specs},
    }
    client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        "kubeflow.org", "v1", namespace, "pytorchjobs", body
    )


def job_status(kube_api, namespace, name):
    job = client.CustomObjectsApi(kube_api).get_namespaced_custom_object(
        "kubeflow.org", "v1", namespace, "pytorchjobs", name
    )
    return job.get("status") or {}


def condition(status, ctype):
    return any(c["type"] == ctype and c["status"] == "True" for c in status.get("conditions") or [])


def wait_job(kube_api, namespace, name, ctype, timeout=60):
    return wait_until(
        f"job {name} {ctype}",
        lambda: (s := job_status(kube_api, namespace, name)) and condition(s, ctype) and s,
        timeout,
    )


def pod_container(core, namespace, pod):
    return core.read_namespaced_pod(pod, namespace).status.container_statuses[0]


def pid_of(container_status) -> int:
    return int(container_status.container_id.rsplit("/", 1)[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")
