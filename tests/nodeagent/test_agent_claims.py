"""The node agent's claims against the real control plane: a pod mounting a claim bound to a
hostPath PersistentVolume (placed by the real scheduler, which needs the claim bound) sees the
PV's directory under its mountPath, one subPath per job, and what it writes there outlives the
pod; a claim on storage this host cannot mount lives under the agent's state directory."""

from __future__ import annotations

import subprocess

import pytest

from tests.nodeagent.cluster import create_job, replica, wait_job
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

# Writes through the env var, through an argument, and reads what an earlier job wrote.
WRITER = """
import os, pathlib, sys
ckpt = pathlib.Path(os.environ["CHECKPOINT_DIR"])
(ckpt / "from-env.txt").write_text(os.environ["JOB"])
pathlib.Path(sys.argv[1]).write_text(str(ckpt))
earlier = ckpt.parent / "job-a" / "from-env.txt"
print("earlier:", earlier.read_text() if earlier.exists() else "-", flush=True)
"""


def claim_body(name: str, namespace: str, pv: str) -> dict:
    return {
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"storageClassName": "nodeagent-test", "volumeName": pv,
                 "accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }  # fmt: skip


def volume_body(name: str, namespace: str, claim: str, source: dict, node: str | None) -> dict:
    spec = {"storageClassName": "nodeagent-test", "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"], "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": namespace, "name": claim}, **source}  # fmt: skip
    if node:  # the data is on this host: pods using it belong on its node
        term = {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In",
                                      "values": [node]}]}  # fmt: skip
        spec["nodeAffinity"] = {"required": {"nodeSelectorTerms": [term]}}
    return {"metadata": {"name": name}, "spec": spec}


@pytest.fixture(scope="module")
def claims(core, agent, namespace, tmp_path_factory):
    """`disk`: bound to a hostPath PV (its directory returned); `remote`: bound to an NFS PV."""
    host_dir = tmp_path_factory.mktemp("pv")
    nfs = {"nfs": {"server": "127.0.0.1", "path": "/x"}}
    pvs = {"disk": (f"{namespace}-disk", {"hostPath": {"path": str(host_dir)}}, agent.node),
           "remote": (f"{namespace}-remote", nfs, None)}  # fmt: skip
    for claim, (pv, source, node) in pvs.items():
        core.create_persistent_volume(volume_body(pv, namespace, claim, source, node))
        core.create_namespaced_persistent_volume_claim(namespace, claim_body(claim, namespace, pv))

    def bound(claim):
        return (
            core.read_namespaced_persistent_volume_claim(claim, namespace).status.phase == "Bound"
        )

    for claim in pvs:
        wait_until(f"claim {claim} bound", lambda c=claim: bound(c), timeout=30)
    yield host_dir
    for pv, _, _ in pvs.values():
        core.delete_persistent_volume(pv)


def job_with_claim(agent, claim: str, sub_path: str, tmp_path) -> dict:
    spec = replica(agent, WRITER)
    pod = spec["template"]["spec"]
    pod["volumes"] = [{"name": "ckpt", "persistentVolumeClaim": {"claimName": claim}}]
    container = pod["containers"][0]
    container["volumeMounts"] = [{"name": "ckpt", "mountPath": "/ckpt", "subPath": sub_path}]
    container["env"] = [{"name": "CHECKPOINT_DIR", "value": "/ckpt"},
                        {"name": "JOB", "value": sub_path}]  # fmt: skip
    container["args"] = ["/ckpt/from-args.txt"]
    return {"Master": spec}


def master_log(kubectl_bin, kubeconfig, namespace, job):
    return subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "-n", namespace, "logs", f"{job}-master-0"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip


def test_a_host_path_claim_is_the_volume_s_directory_and_outlives_pods(
    kube_api, agent, namespace, claims, tmp_path, kubectl_bin, kubeconfig
):
    for job in ("job-a", "job-b"):
        create_job(kube_api, namespace, job, job_with_claim(agent, "disk", job, tmp_path))
        wait_job(kube_api, namespace, job, "Succeeded")
    for job in ("job-a", "job-b"):
        assert (claims / job / "from-env.txt").read_text() == job
        # The argument named the same directory: the process saw the host path in both.
        assert (claims / job / "from-args.txt").read_text() == str(claims / job)
    # job-b's pod started after job-a's was gone, and found what job-a left on the claim.
    assert "earlier: job-a" in master_log(kubectl_bin, kubeconfig, namespace, "job-b")


def test_a_claim_on_storage_this_host_cannot_mount_lives_in_the_state_dir(
    kube_api, agent, namespace, claims, tmp_path
):
    create_job(kube_api, namespace, "job-r", job_with_claim(agent, "remote", "job-r", tmp_path))
    wait_job(kube_api, namespace, "job-r", "Succeeded")
    here = agent.state_dir / "claims" / namespace / "remote" / "job-r"
    assert (here / "from-env.txt").read_text() == "job-r"
    assert not (claims / "job-r").exists()
