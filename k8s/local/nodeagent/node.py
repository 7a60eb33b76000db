"""This machine as a Node of the local control plane: registration (tainted and labelled so only
pods that ask for it land here), its Lease in kube-node-lease renewed every few seconds, and a
status heartbeat. Both keep the node-lifecycle controller from marking the node unreachable,
which would taint it and evict its pods."""

from __future__ import annotations

import logging
import os
import platform
import socket
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from .podstatus import now_rfc3339

log = logging.getLogger(__name__)
LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_S = 40
KUBELET_VERSION = "v1.36.3-trainq.nodeagent"


def parse_taint(text: str) -> dict:
    """`key=value:Effect` (or `key:Effect`) -> a Taint."""
    keyval, _, effect = text.rpartition(":")
    key, _, value = keyval.partition("=")
    if not key or effect not in ("NoSchedule", "PreferNoSchedule", "NoExecute"):
        raise ValueError(f"bad taint {text!r}: want key=value:Effect")
    taint = {"key": key, "effect": effect}
    if value:
        taint["value"] = value
    return taint


def parse_labels(texts: list[str]) -> dict[str, str]:
    out = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or not key:
            raise ValueError(f"bad label {text!r}: want key=value")
        out[key] = value
    return out


def machine_capacity(cpu: str | None = None, memory: str | None = None) -> dict[str, str]:
    """What the scheduler may place here; overridable because a 2-core laptop may still want to
    run a job whose pods request more (they only share the CPUs)."""
    if memory is None:
        mem_kib = 0
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
        memory = f"{mem_kib}Ki"
    capacity = {"cpu": cpu or str(os.cpu_count() or 1), "memory": memory, "pods": "110"}
    gpus = len(list(Path("/dev").glob("nvidia[0-9]*")))
    if gpus:
        capacity["nvidia.com/gpu"] = str(gpus)
    return capacity


def node_manifest(name: str, labels: Mapping[str, str], taints: list[dict]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {
                "kubernetes.io/hostname": name,
                "kubernetes.io/os": "linux",
                "kubernetes.io/arch": _arch(),
                **labels,
            },
        },
        "spec": {"taints": taints},
    }


def node_status(capacity: Mapping[str, str], port: int, ready: bool, now: str) -> dict:
    """Only an InternalIP address: the apiserver prefers a Hostname address when one exists, and
    the node name does not resolve, so `kubectl logs` would fail to reach us."""
    reason, message = ("KubeletReady", "trainq node agent is posting ready status")
    if not ready:
        reason, message = ("KubeletNotReady", "trainq node agent stopped")

    def cond(ctype: str, status: str, why: str, text: str) -> dict:
        return {
            "type": ctype,
            "status": status,
            "reason": why,
            "message": text,
            "lastHeartbeatTime": now,
            "lastTransitionTime": now,
        }

    return {
        "capacity": dict(capacity),
        "allocatable": dict(capacity),
        "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
        "conditions": [
            cond("Ready", "True" if ready else "False", reason, message),
            cond("MemoryPressure", "False", "KubeletHasSufficientMemory", "ok"),
            cond("DiskPressure", "False", "KubeletHasNoDiskPressure", "ok"),
            cond("PIDPressure", "False", "KubeletHasSufficientPID", "ok"),
        ],
        "nodeInfo": {
            "machineID": _read("/etc/machine-id"),
            "systemUUID": "",
            "bootID": _read("/proc/sys/kernel/random/boot_id"),
            "kernelVersion": platform.release(),
            "osImage": f"{platform.system()} ({socket.gethostname()})",
            "containerRuntimeVersion": "nodeagent://local-processes",
            "kubeletVersion": KUBELET_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": _arch(),
        },
    }


def _arch() -> str:
    return {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _micro_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class NodeKeeper(threading.Thread):
    def __init__(
        self,
        api_client: client.ApiClient,
        name: str,
        labels: Mapping[str, str],
        taints: list[dict],
        capacity: Mapping[str, str],
        port: int,
        lease_interval: float = 10.0,
        status_interval: float = 30.0,
    ):
        super().__init__(name="node-keeper", daemon=True)
        self.core = client.CoreV1Api(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.name, self.labels, self.taints = name, labels, taints
        self.capacity, self.port = capacity, port
        self.lease_interval, self.status_interval = lease_interval, status_interval
        self.stopping = threading.Event()
        self.uid = ""

    def register(self) -> None:
        """Creates the Node, or brings an existing one (a restarted agent's) back in line."""
        manifest = node_manifest(self.name, self.labels, self.taints)
        try:
            node = self.core.create_node(manifest)
        except ApiException as exc:
            if exc.status != 409:
                raise
            node = self.core.read_node(self.name)
            annotations = node.metadata.annotations or {}
            if "kwok.x-k8s.io/node" in annotations:
                raise RuntimeError(
                    f"node {self.name} is a kwok node; pick another --node-name"
                ) from None
            # Taints are an atomic list in a strategic merge patch: ours replace any left over
            # (e.g. not-ready taints the lifecycle controller added while we were down).
            node = self.core.patch_node(self.name, manifest)
        self.uid = node.metadata.uid
        self.post_status(ready=True)
        self.renew_lease()
        log.info("node %s registered (capacity %s)", self.name, dict(self.capacity))

    def post_status(self, ready: bool) -> None:
        status = node_status(self.capacity, self.port, ready, now_rfc3339())
        self.core.patch_node_status(self.name, {"status": status})

    def renew_lease(self) -> None:
        spec = {
            "holderIdentity": self.name,
            "leaseDurationSeconds": LEASE_DURATION_S,
            "renewTime": _micro_now(),
        }
        try:
            self.coordination.patch_namespaced_lease(self.name, LEASE_NAMESPACE, {"spec": spec})
        except ApiException as exc:
            if exc.status != 404:
                raise
            # Owned by the Node so the garbage collector removes it with the node.
            owner = {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid}
            lease = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": self.name, "ownerReferences": [owner]},
                "spec": spec,
            }
            self.coordination.create_namespaced_lease(LEASE_NAMESPACE, lease)

    def run(self) -> None:
        since_status = 0.0
        while not self.stopping.wait(self.lease_interval):
            try:
                self.renew_lease()
                since_status += self.lease_interval
                if since_status >= self.status_interval:
                    self.post_status(ready=True)
                    since_status = 0.0
            except ApiException as exc:
                if exc.status == 404:  # someone deleted our Node: register again
                    log.warning("node %s vanished; registering again", self.name)
                    self._try(self.register)
                else:
                    log.warning("node heartbeat failed: %s", exc)
            except Exception as exc:  # noqa: BLE001 - apiserver down for a moment: retry
                log.warning("node heartbeat failed: %s", exc)

    def _try(self, fn) -> None:
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            log.warning("node %s: %s", self.name, exc)

    def stop(self) -> None:
        """Stops heartbeats and says NotReady, so the scheduler stops placing pods here at once
        instead of after the lease expires."""
        self.stopping.set()
        self._try(lambda: self.post_status(ready=False))
