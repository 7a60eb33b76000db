"""A container's environment and command line as the kubelet would build them, then bent to fit
one host: every pod and service of a job is this machine, so names of the job's pods/services
become 127.0.0.1, the job's rendezvous ports are remapped to free local ports (one map per
job, shared by all its pods, so several jobs can run at once without clashing), and paths under
a volume's mountPath become the host directory behind it (there is no mount namespace). Pure
functions plus one small thread-safe map; no Kubernetes or process I/O here."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

LOCAL_IP = "127.0.0.1"
# A PyTorchJob's pods (training operator) carry its name; a TrainJob's pods (Kubeflow Trainer
# v2, through JobSet) carry their JobSet's name (= the TrainJob's) and uid.
JOB_NAME_LABEL = "training.kubeflow.org/job-name"
JOBSET_NAME_LABEL = "jobset.sigs.k8s.io/jobset-name"
JOBSET_UID_LABEL = "jobset.sigs.k8s.io/jobset-uid"
PYTORCHJOB, JOBSET = "PyTorchJob", "JobSet"
# Env vars whose whole value is a rendezvous port the job's processes listen on / dial.
PORT_VARS = frozenset({"MASTER_PORT", "PET_MASTER_PORT"})
# A ConfigMap/Secret reader: (kind, namespace, name) -> its data, or None when missing.
SourceLookup = Callable[[str, str, str], Mapping[str, str] | None]


@dataclass(frozen=True)
class JobRef:
    """The training job a pod belongs to; the uid keeps a re-created job with the same name
    from inheriting the old one's ports. kind: PYTORCHJOB or JOBSET (a TrainJob's), which
    names its pods' hosts differently."""

    namespace: str
    name: str
    uid: str
    kind: str = PYTORCHJOB


def job_of(pod: Mapping) -> JobRef | None:
    meta = pod.get("metadata", {})
    labels = meta.get("labels") or {}
    namespace = meta.get("namespace", "default")
    owner = next((o for o in meta.get("ownerReferences") or [] if o.get("controller")), None)
    if name := labels.get(JOB_NAME_LABEL):
        return JobRef(namespace, name, owner["uid"] if owner else "")
    if name := labels.get(JOBSET_NAME_LABEL):
        # The JobSet's uid, not the controller owner's: that is one of its Jobs, and the pods
        # of all its Jobs (replicated jobs, or Jobs it recreated) must share the ports.
        uid = labels.get(JOBSET_UID_LABEL) or (meta.get("annotations") or {}).get(
            JOBSET_UID_LABEL, owner["uid"] if owner else ""
        )
        return JobRef(namespace, name, uid, JOBSET)
    return None


def field_value(pod: Mapping, path: str, pod_ip: str = LOCAL_IP) -> str:
    """The downward-API value of fieldRef `path`. Pod IPs are ours to assign (the pod's status
    may not carry them yet), so they come from pod_ip; the host is always 127.0.0.1."""
    meta = pod.get("metadata", {})
    spec = pod.get("spec", {})
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']+)'\]", path)
    if m:
        return str((meta.get(m.group(1)) or {}).get(m.group(2), ""))
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": LOCAL_IP,
        "status.hostIPs": LOCAL_IP,
    }
    return str(simple.get(path, ""))


_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: defined vars are substituted, undefined ones are left as
    written, and $$ escapes a literal $."""

    def sub(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        return env.get(m.group(1), m.group(0))

    return _VAR_REF.sub(sub, text)


def container_env(
    pod: Mapping,
    container: Mapping,
    lookup: SourceLookup | None = None,
    pod_ip: str = LOCAL_IP,
) -> dict[str, str]:
    """The env the kubelet would give `container`: envFrom first, then env in order (later
    entries may refer to earlier ones with $(VAR))."""
    ns = pod.get("metadata", {}).get("namespace", "default")
    env: dict[str, str] = {}
    for src in container.get("envFrom") or []:
        for kind, key in (("configmap", "configMapRef"), ("secret", "secretRef")):
            ref = src.get(key)
            if ref and lookup:
                data = lookup(kind, ns, ref["name"]) or {}
                env.update({src.get("prefix", "") + k: v for k, v in data.items()})
    for var in container.get("env") or []:
        name = var["name"]
        if "valueFrom" not in var:
            env[name] = expand(var.get("value", ""), env)
            continue
        vf = var["valueFrom"]
        if "fieldRef" in vf:
            env[name] = field_value(pod, vf["fieldRef"]["fieldPath"], pod_ip)
        elif "resourceFieldRef" in vf:
            env[name] = _resource_value(container, vf["resourceFieldRef"])
        else:
            for kind, key in (("configmap", "configMapKeyRef"), ("secret", "secretKeyRef")):
                ref = vf.get(key)
                if ref and lookup:
                    data = lookup(kind, ns, ref["name"]) or {}
                    if ref["key"] in data:
                        env[name] = data[ref["key"]]
    return env


def _resource_value(container: Mapping, ref: Mapping) -> str:
    # Only the raw quantity; divisor handling is out of scope for a local node.
    kind, _, res = ref.get("resource", "").partition(".")
    value = ((container.get("resources") or {}).get(kind) or {}).get(res)
    return str(value) if value is not None else "0"


class HostRewriter:
    """Rewrites references to a job's pods/services to 127.0.0.1, and the port in
    `<that>:<port>` or a PORT_VARS value to the job's local port. A PyTorchJob's are
    `<job>-master-0`, `<job>-worker-3`, with or without `.<ns>[.svc[.cluster.local]]`; a
    JobSet's pods are `<jobset>-<replicated job>-<job index>-<pod index>` (a TrainJob's:
    `<trainjob>-node-0-1`), optionally in its headless service's subdomain `.<jobset>`, then
    the same namespace suffixes; and that service itself as `<jobset>.<ns>.svc[...]`."""

    def __init__(self, job: JobRef, port_for: Callable[[int], int]):
        self.port_for = port_for
        name, ns = re.escape(job.name), re.escape(job.namespace)
        domain = rf"(?:\.{ns}(?:\.svc(?:\.cluster\.local)?)?)?"
        if job.kind == JOBSET:
            # Each dash-separated part of the replicated job's name has a letter, so a pod's
            # name (`<hostname>-<random suffix>`, which may be all digits) is never taken.
            part = "[a-z0-9]*[a-z][a-z0-9]*"
            pod = rf"{name}-{part}(?:-{part})*-\d+-\d+(?:\.{name})?{domain}"
            host = rf"(?:{pod}|{name}\.{ns}\.svc(?:\.cluster\.local)?)"
        else:
            host = rf"{name}-(?:master|worker)-\d+{domain}"
        self._host_port = re.compile(rf"(?<![\w.-]){host}(?::(\d+))?(?![\w.-])")

    def text(self, value: str) -> str:
        def sub(m: re.Match) -> str:
            port = m.group(1)
            return f"{LOCAL_IP}:{self.port_for(int(port))}" if port else LOCAL_IP

        return self._host_port.sub(sub, value)

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        out = {}
        for name, value in env.items():
            if name in PORT_VARS and value.strip().isdigit():
                out[name] = str(self.port_for(int(value)))
            else:
                out[name] = self.text(value)
        return out


@dataclass(frozen=True)
class Mount:
    """A volumeMount on this host: what the container calls `path` is the directory `host`."""

    path: str
    host: Path


def host_path(value: str, mounts: Sequence[Mount]) -> str:
    """`value` with a leading mountPath (the whole value, or up to a '/') replaced by its host
    directory; the deepest mount wins, as it would shadow the others in a container."""
    for mount in sorted(mounts, key=lambda m: len(m.path), reverse=True):
        if value == mount.path or value.startswith(mount.path + "/"):
            return str(mount.host) + value[len(mount.path) :]
    return value


def free_port() -> int:
    # The kernel picks a port nobody holds right now; the tiny window before the job binds it
    # is acceptable on a developer machine.
    with socket.socket() as s:
        s.bind((LOCAL_IP, 0))
        return s.getsockname()[1]


class JobPorts:
    """Per job, a stable map from the ports its env names to free local ports. Pods of one job
    may start in any order on this node, and each must see the same port."""

    def __init__(self, pick: Callable[[], int] = free_port):
        self._pick = pick
        self._lock = threading.Lock()
        self._ports: dict[JobRef, dict[int, int]] = {}

    def port(self, job: JobRef, original: int) -> int:
        with self._lock:
            ports = self._ports.setdefault(job, {})
            if original not in ports:
                taken = {p for m in self._ports.values() for p in m.values()}
                new = self._pick()
                while new in taken:
                    new = self._pick()
                ports[original] = new
            return ports[original]

    def forget(self, job: JobRef) -> None:
        with self._lock:
            self._ports.pop(job, None)

    def jobs(self) -> set[JobRef]:
        with self._lock:
            return set(self._ports)


def process_spec(
    pod: Mapping,
    container: Mapping,
    ports: JobPorts,
    base_env: Mapping[str, str],
    python: str,
    lookup: SourceLookup | None = None,
    pod_ip: str = LOCAL_IP,
    mounts: Sequence[Mount] = (),
) -> tuple[list[str], dict[str, str]]:
    """(argv, env) for one container on this host. Raises ValueError when there is nothing to
    run (no command: the image's entrypoint is unknown here)."""
    if not container.get("command"):
        raise ValueError("container has no command; the node agent cannot run image entrypoints")
    env = container_env(pod, container, lookup, pod_ip)
    job = job_of(pod)
    rewriter = HostRewriter(job, lambda p: ports.port(job, p)) if job else None
    if rewriter:
        env = rewriter.env(env)
    env = {name: host_path(value, mounts) for name, value in env.items()}
    # Literal paths are rewritten before $(VAR) expansion: expanded values already were, and a
    # host directory that itself starts with a mountPath must not be rewritten twice.
    raw = [*(container.get("command") or []), *(container.get("args") or [])]
    argv = [expand(host_path(a, mounts), env) for a in raw]
    if rewriter:
        argv = [rewriter.text(a) for a in argv]
    # "python" in a pod means the image's interpreter; here that is the project's venv.
    if re.fullmatch(r"python(3(\.\d+)?)?", argv[0]):
        argv[0] = python
    return argv, {**base_env, **env}
