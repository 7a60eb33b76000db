"""Kueue (sigs.k8s.io/kueue/cmd/kueue at KUEUE_VERSION, built by `k8s/local/build.sh kueue`)
run out of cluster beside the local control plane, for the side-by-side benchmark
(benchmarks/sidebyside.py). Nothing here starts or stops the control plane.

Kueue runs as one plain process with a Configuration that manages only PyTorchJobs carrying
its queue-name label (manageJobsWithoutQueueName: false; integration kubeflow.org/pytorchjob
only); no webhook is registered in the apiserver, so jobs are created suspended with the label
(`job_labels`). Its in-process servers still need certificates (internal cert management is
off: it would wait for a Secret and CA injection into CRDs that do not exist): one self-signed
pair serves the webhook server (certDir) and the metrics server, whose path is hard-coded
(/etc/kueue/metrics/certs, written only when missing). The visibility server is turned off
(--feature-gates=VisibilityOnDemand=false). Ports are free loopback ports.

`objects(teams, prefix)` maps trainq team entries (k8s/local/trainq.yaml form) onto one
ResourceFlavor, a ClusterQueue per team in one cohort (nominal quotas, borrowing limits,
fair-sharing weights, preemption) and a LocalQueue per team namespace.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import requests
import yaml
from kubernetes import client, config

from benchmarks.stack import REPO, free_port, kubeconfig

GROUP, VERSION = "kueue.x-k8s.io", "v1beta2"
QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
GPU = "nvidia.com/gpu"
METRICS_CERTS = Path("/etc/kueue/metrics/certs")  # hard-coded in cmd/kueue/main.go (v0.17)
VERSIONS = REPO / "k8s/local/versions.env"


def _versions() -> dict[str, str]:
    out = {}
    for line in VERSIONS.read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def version() -> str:
    return _versions()["KUEUE_VERSION"]


def cache() -> Path:
    return Path(os.environ.get("TRAINQ_CACHE", Path.home() / ".cache/trainq"))


def bin_dir() -> Path:
    return cache() / "bin" / f"kueue-{version()}"


def built() -> bool:
    return (bin_dir() / ".complete").is_file() and (bin_dir() / "kueue").is_file()


def kubectl() -> str:
    return str(cache() / "bin" / f"k8s-{_versions()['K8S_VERSION']}" / "kubectl")


def install_crds(timeout_s: float = 120) -> None:
    """Kueue's CRDs from its module (copied beside the binary; `workloads` is 1.4 MB, too big
    for client-side apply's annotation: server-side apply)."""
    env = {**os.environ, "KUBECONFIG": kubeconfig()}
    files = sorted((bin_dir() / "crd").glob("*.yaml"))
    if not files:
        raise RuntimeError(f"no CRDs in {bin_dir() / 'crd'}: rebuild with build.sh kueue")
    argv = [kubectl(), "apply", "--server-side", "--force-conflicts"]
    for f in files:
        argv += ["-f", str(f)]
    subprocess.run(argv, env=env, check=True, capture_output=True, timeout=timeout_s)
    names = [yaml.safe_load(f.read_text())["metadata"]["name"] for f in files]
    wait = [kubectl(), "wait", "--for=condition=Established", f"--timeout={int(timeout_s)}s"]
    subprocess.run(wait + [f"crd/{n}" for n in names], env=env, check=True, capture_output=True)


def _self_signed(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "tls.crt").is_file() and (directory / "tls.key").is_file():
        return
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "3650",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(directory / "tls.key"), "-out", str(directory / "tls.crt")],
        check=True, capture_output=True,
    )  # fmt: skip


def configuration(cert_dir: Path, ports: dict[str, int]) -> dict:
    return {
        "apiVersion": "config.kueue.x-k8s.io/v1beta2",
        "kind": "Configuration",
        "namespace": "kueue-system",
        "leaderElection": {"leaderElect": False},
        "internalCertManagement": {"enable": False},
        "health": {"healthProbeBindAddress": f"127.0.0.1:{ports['health']}"},
        "metrics": {"bindAddress": f"127.0.0.1:{ports['metrics']}"},
        "webhook": {"host": "127.0.0.1", "port": ports["webhook"], "certDir": str(cert_dir)},
        "clientConnection": {"qps": 50, "burst": 100},
        "manageJobsWithoutQueueName": False,
        "integrations": {"frameworks": ["kubeflow.org/pytorchjob"]},
        # Present = enabled (v1beta2); validation refuses an empty strategy list.
        "fairSharing": {
            "preemptionStrategies": ["LessThanOrEqualToFinalShare", "LessThanInitialShare"]
        },
    }


class Kueue:
    """One Kueue controller process; `start()` installs the CRDs and waits for /readyz."""

    def __init__(self, workdir: Path):
        if not built():
            raise RuntimeError(f"Kueue {version()} is not built: k8s/local/build.sh kueue")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc: subprocess.Popen | None = None
        self.ports = {k: free_port() for k in ("health", "metrics", "webhook")}
        self.log_path = self.dir / "kueue.log"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout_s: float = 120) -> None:
        install_crds()
        certs = self.dir / "certs"
        _self_signed(certs)
        if not (METRICS_CERTS / "tls.crt").is_file():
            METRICS_CERTS.mkdir(parents=True, exist_ok=True)
            for name in ("tls.crt", "tls.key"):
                shutil.copy(certs / name, METRICS_CERTS / name)
        cfg = self.dir / "kueue-config.yaml"
        cfg.write_text(yaml.safe_dump(configuration(certs, self.ports)))
        argv = [str(bin_dir() / "kueue"), "--config", str(cfg), "--kubeconfig", kubeconfig(),
                "--feature-gates=VisibilityOnDemand=false"]  # fmt: skip
        log = open(self.log_path, "ab")  # closed with the process
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        url = f"http://127.0.0.1:{self.ports['health']}/readyz"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kueue exited ({self.proc.returncode}); see {self.log_path}")
            try:
                if requests.get(url, timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"kueue not ready in {timeout_s}s; see {self.log_path}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


# --- the queueing objects --------------------------------------------------------------------
def _quota(team: dict) -> dict[str, str]:
    q = team["quota"]
    return {"cpu": str(q["cpu"]), "memory": str(q["memory"]), GPU: str(q.get("gpu", 0))}


def cluster_queue(team: dict, prefix: str, flavor: str) -> dict:
    """trainq's team quota as nominal quotas; its borrowing_limit as borrowingLimit (a team
    without one may not borrow: 0); max_running_jobs has no Kueue counterpart (jobs are
    not a resource) and is left out."""
    limit = team.get("borrowing_limit") or {}
    key = {"cpu": "cpu", "memory": "memory", GPU: "gpu"}
    resources = [{"name": name, "nominalQuota": value,
                  "borrowingLimit": str(limit.get(key[name], 0))}
                 for name, value in _quota(team).items()]  # fmt: skip
    pre = team.get("preemption") or {}
    within = "LowerPriority" if pre.get("within_team") == "LowerPriority" else "Never"
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClusterQueue",
        "metadata": {"name": f"{prefix}-{team['name']}"},
        "spec": {
            "cohortName": prefix,
            "namespaceSelector": {},
            "queueingStrategy": "BestEffortFIFO",
            "preemption": {
                "reclaimWithinCohort": pre.get("reclaim", "Any"),
                "withinClusterQueue": within,
            },
            "fairSharing": {"weight": str(team.get("weight", 1))},
            "resourceGroups": [
                {
                    "coveredResources": ["cpu", "memory", GPU],
                    "flavors": [{"name": flavor, "resources": resources}],
                }
            ],
        },
    }


def objects(teams: list[dict], prefix: str, namespaces: dict[str, str]) -> list[dict]:
    """Flavor, ClusterQueues, LocalQueues for `teams`; namespaces: team -> its namespace."""
    flavor = f"{prefix}-flavor"
    out = [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "ResourceFlavor",
            "metadata": {"name": flavor}}]  # fmt: skip
    out += [cluster_queue(t, prefix, flavor) for t in teams]
    out += [{"apiVersion": f"{GROUP}/{VERSION}", "kind": "LocalQueue",
             "metadata": {"name": local_queue(t["name"]), "namespace": namespaces[t["name"]]},
             "spec": {"clusterQueue": f"{prefix}-{t['name']}"}} for t in teams]  # fmt: skip
    return out


def local_queue(team: str) -> str:
    return f"lq-{team}"


def job_labels(team: str) -> dict[str, str]:
    return {QUEUE_LABEL: local_queue(team)}


PLURALS = {"ResourceFlavor": "resourceflavors", "ClusterQueue": "clusterqueues",
           "LocalQueue": "localqueues"}  # fmt: skip


def custom_api() -> client.CustomObjectsApi:
    return client.CustomObjectsApi(config.new_client_from_config(config_file=kubeconfig()))


def ensure_namespace(name: str) -> None:
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig()))
    try:
        core.create_namespace({"metadata": {"name": name, "labels": {"trainq.dev/bench": "kueue"}}})
    except client.ApiException as exc:
        if exc.status != 409:
            raise


def _call(api: client.CustomObjectsApi, verb: str, obj: dict, *rest):
    """`verb` (create / get / delete / patch) of a Kueue object, namespaced or not."""
    plural, ns = PLURALS[obj["kind"]], obj["metadata"].get("namespace")
    if ns:
        return getattr(api, f"{verb}_namespaced_custom_object")(GROUP, VERSION, ns, plural, *rest)
    return getattr(api, f"{verb}_cluster_custom_object")(GROUP, VERSION, plural, *rest)


def create(api: client.CustomObjectsApi, objs: list[dict]) -> None:
    for obj in objs:
        _call(api, "create", obj, obj)


def _gone(api: client.CustomObjectsApi, obj: dict) -> bool:
    try:
        _call(api, "get", obj, obj["metadata"]["name"])
    except client.ApiException as exc:
        if exc.status == 404:
            return True
        raise
    return False


def delete(api: client.CustomObjectsApi, objs: list[dict], wait_s: float = 30) -> None:
    """LocalQueues, then ClusterQueues, then the flavor (Kueue drops its finalizers once
    nothing uses them, so call this while Kueue still runs); finalizers left after `wait_s`
    are removed."""
    order = {"LocalQueue": 0, "ClusterQueue": 1, "ResourceFlavor": 2}
    for obj in sorted(objs, key=lambda o: order[o["kind"]]):
        name = obj["metadata"]["name"]
        try:
            _call(api, "delete", obj, name)
        except client.ApiException as exc:
            if exc.status != 404:
                raise
        for attempt in range(2):
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline and not _gone(api, obj):
                time.sleep(0.3)
            if _gone(api, obj):
                break
            if attempt == 0:
                _call(api, "patch", obj, name, {"metadata": {"finalizers": None}})
