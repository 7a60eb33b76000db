"""A pod's persistentVolumeClaim volumes as directories of this host, where its processes (which
see the host's filesystem) find them: envrewrite rewrites paths under each mountPath to them.

A claim bound to a hostPath or local PersistentVolume is that volume's path, so data outlives
the pod exactly as on a node with that disk; any other claim (unbound, missing, or backed by
storage this host cannot mount) is `<state-dir>/claims/<namespace>/<claim>/`. A mount's subPath
is a directory under it, created like the kubelet creates it. Other volume kinds (emptyDir,
configMap, secret...) are not emulated, and readOnly is not enforced."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath

from kubernetes import client
from kubernetes.client.rest import ApiException

from .envrewrite import Mount

log = logging.getLogger(__name__)
# (namespace, claim) -> the claim's directory on this host.
ClaimDir = Callable[[str, str], Path]


class VolumeError(Exception):
    """A volume that cannot be set up; the container does not start."""


def container_mounts(pod: Mapping, container: Mapping, claim_dir: ClaimDir) -> list[Mount]:
    """The container's mounts of claims, with their host directories (not created here)."""
    namespace = pod.get("metadata", {}).get("namespace", "default")
    volumes = {v["name"]: v for v in pod.get("spec", {}).get("volumes") or []}
    mounts = []
    for vm in container.get("volumeMounts") or []:
        claim = (volumes.get(vm["name"]) or {}).get("persistentVolumeClaim")
        path = vm["mountPath"].rstrip("/")
        if not claim or not path:  # not a claim, or mounted at "/" (nothing to rewrite)
            continue
        host = claim_dir(namespace, claim["claimName"])
        sub = PurePosixPath(vm.get("subPath") or "")
        # The apiserver refuses these too; a pod must not reach outside its claim here either.
        if sub.is_absolute() or ".." in sub.parts:
            raise VolumeError(f"volumeMount {vm['name']}: subPath {str(sub)!r} leaves the volume")
        mounts.append(Mount(path, host / sub if sub.parts else host))
    return mounts


class ClaimDirs:
    """Finds a claim's directory through the API (PVC -> bound PV -> hostPath or local path),
    else under `fallback`."""

    ATTEMPTS = 5

    def __init__(self, api: client.CoreV1Api, fallback: Path):
        self.api, self.fallback = api, fallback

    def __call__(self, namespace: str, claim: str) -> Path:
        for attempt in range(self.ATTEMPTS):
            try:
                return self._lookup(namespace, claim)
            except ApiException as exc:
                if exc.status == 404:
                    break
                error = exc
            except Exception as exc:  # noqa: BLE001 - connection trouble: retry
                error = exc
            log.warning("claim %s/%s: lookup failed (%s); retrying", namespace, claim, error)
            time.sleep(1 + attempt)
        else:
            # Guessing the fallback here could hide a job's checkpoints from it: fail instead.
            raise VolumeError(f"claim {namespace}/{claim}: cannot read it ({error})")
        return self.fallback / namespace / claim

    def _lookup(self, namespace: str, claim: str) -> Path:
        pvc = self.api.read_namespaced_persistent_volume_claim(claim, namespace)
        if pvc.spec.volume_name and (pvc.status.phase or "") == "Bound":
            pv = self.api.read_persistent_volume(pvc.spec.volume_name)
            source = pv.spec.host_path or pv.spec.local
            if source:
                return Path(source.path)
        return self.fallback / namespace / claim
