"""An isolated trainq stack for one benchmark: its own Redis DB, its own instance label (so its
PyTorchJobs are told apart from everyone else's), its own API port; the API runs under gunicorn
with the documented settings (wrapper/gunicorn.conf.py), workers as `python -m queue_workers`.
It uses the running local control plane and Redis (k8s/local/env.sh) and never starts or stops
them. Traffic stays on loopback."""

import hashlib
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import redis
import requests
import yaml
from kubernetes import client, config

REPO = Path(__file__).resolve().parents[1]
LOCAL_CONFIG = REPO / "k8s/local/trainq.yaml"
TOKENS = {"alpha": "alpha-dev-token", "beta": "beta-dev-token", "admin": "admin-dev-token"}
# Far above anything a benchmark queues: "capacity free" whatever admission enforces.
UNLIMITED_QUOTA = {"max_running_jobs": 1_000_000, "cpu": "100000", "memory": "100000Ti", "gpu": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def redis_url(db: int) -> str:
    base = urlparse(os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0"))
    return urlunparse(base._replace(path=f"/{db}"))


def kubeconfig() -> str:
    return os.environ.get("KUBECONFIG", str(REPO / ".local/kubeconfig"))


def job_body(name: str = "bench", run_for: str = "3s") -> dict:
    """A small job (one Master pod) whose simulated pod finishes after `run_for`."""
    return {
        "name": name,
        "image": "docker.io/library/busybox:1.36",
        "command": ["sh", "-c", "echo training"],
        "workers": 0,
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "annotations": {"trainq.dev/sim-run-for": run_for},
    }


def submit(session: requests.Session, base: str, team: str, body: dict) -> dict:
    """POST one job as `team` (its development token); the accepted record."""
    token = TOKENS.get(team, team)
    r = session.post(f"{base}/v1/teams/{team}/jobs", json=body,
                     headers={"Authorization": f"Bearer {token}"}, timeout=10)  # fmt: skip
    if r.status_code != 202:
        raise RuntimeError(f"submission answered {r.status_code}: {r.text[:500]}")
    return r.json()


def many_teams(count: int) -> tuple[list[dict], dict[str, str]]:
    """`count` teams (config entries) and their bearer tokens, for the scale benchmark."""
    teams, tokens = [], {}
    for i in range(count):
        name, token = f"t{i:04d}", f"bench-token-{i:04d}"
        tokens[name] = token
        teams.append(
            {
                "name": name,
                "namespace": f"bench-{name}",
                "weight": 1,
                "quota": UNLIMITED_QUOTA,
                "token_sha256": [hashlib.sha256(token.encode()).hexdigest()],
            }
        )
    return teams, tokens


class BenchStack:
    def __init__(
        self,
        workdir: Path,
        db: int,
        teams: list[dict] | None = None,
        tokens: dict[str, str] | None = None,
    ):
        workdir.mkdir(parents=True, exist_ok=True)
        self.dir, self.db = workdir, db
        self.redis_url = redis_url(db)
        self.redis = redis.Redis.from_url(self.redis_url)
        self.redis.flushdb()
        self.instance = "b" + secrets.token_hex(4)
        raw = yaml.safe_load(LOCAL_CONFIG.read_text())
        raw["instance"] = self.instance
        # Load generators submit far faster than a team may (submissions.per_minute): lift the
        # caps, which the benchmarks do not measure.
        raw["submissions"] = {"max_queued_jobs": 10_000_000, "per_minute": 10_000_000}
        if teams is None:
            teams = [{**t, "quota": UNLIMITED_QUOTA} for t in raw["teams"]]
            tokens = {t: TOKENS[t] for t in ("alpha", "beta")}
        self.tokens = tokens or {}
        raw["teams"] = teams
        self.config_path = workdir / f"trainq-{self.instance}.yaml"
        self.config_path.write_text(yaml.safe_dump(raw))
        self.env = {
            **os.environ,
            "TRAINQ_CONFIG": str(self.config_path),
            "REDIS_URL": self.redis_url,
            "KUBECONFIG": kubeconfig(),
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.procs: dict[str, subprocess.Popen] = {}
        self.base = ""
        self.noop_base = ""

    # --- processes ----------------------------------------------------------------------
    def _start(self, name: str, argv: list[str], extra_env: dict | None = None):
        # A benchmark that failed midway may not have stopped what it started: a process of
        # the same name is stopped first, so none is left running unseen.
        self.stop_one(name)
        log = open(self.dir / f"{name}.log", "ab")  # closed with the process
        proc = subprocess.Popen(
            argv,
            cwd=REPO,
            env={**self.env, **(extra_env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def start_api(self, app: str = "wrapper.wsgi:app", name: str = "api") -> str:
        """gunicorn with wrapper/gunicorn.conf.py as `make up` runs it (workers and threads
        from TRAINQ_API_WORKERS / TRAINQ_API_THREADS, default 2 x 8), serving `app`; returns
        its base URL (also `self.base` for the API)."""
        port = free_port()
        argv = [sys.executable, "-m", "gunicorn", "-c", "wrapper/gunicorn.conf.py"]
        self._start(name, [*argv, app], {"TRAINQ_API_PORT": str(port)})
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.dir / f'{name}.log'}")
            try:
                if requests.get(base + "/healthz", timeout=1).status_code < 500:
                    break
            except requests.RequestException:
                time.sleep(0.2)
                continue
        else:
            raise RuntimeError(f"{name} did not answer within 60 s; see {self.dir / f'{name}.log'}")
        if name == "api":
            self.base = base
        return base

    def start_noop(self) -> str:
        """The submission benchmark's baseline app (benchmarks/noop.py) on the same config."""
        self.noop_base = self.start_api("benchmarks.noop:app", "noop")
        return self.noop_base

    def start_workers(self, count: int) -> None:
        for i in range(count):
            name = f"worker-{i + 1}"
            argv = [sys.executable, "-m", "queue_workers", "--name", f"{self.instance}-{name}"]
            self._start(name, argv)

    def start_watcher(self) -> None:
        self._start("watcher", [sys.executable, "-m", "queue_workers.watcher"])

    def stop(self, prefix: str = "") -> None:
        for name in [n for n in self.procs if n.startswith(prefix)]:
            self.stop_one(name)

    def stop_one(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)

    # --- Kubernetes ---------------------------------------------------------------------
    def custom_api(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(config.new_client_from_config(config_file=kubeconfig()))

    def close(self) -> None:
        self.stop()
        delete_pytorchjobs(self.custom_api(), f"trainq.dev/instance={self.instance}")
        self.redis.flushdb()


def delete_pytorchjobs(api: client.CustomObjectsApi, selector: str, wait_s: float = 60) -> int:
    """Delete every PyTorchJob matching `selector` (their pods go with them) and wait until
    they are gone, so simulated pods never pile up on the shared control plane."""
    items = api.list_cluster_custom_object(
        "kubeflow.org", "v1", "pytorchjobs", label_selector=selector
    )["items"]
    for obj in items:
        meta = obj["metadata"]
        try:
            api.delete_namespaced_custom_object(
                "kubeflow.org", "v1", meta["namespace"], "pytorchjobs", meta["name"],
                body=client.V1DeleteOptions(propagation_policy="Background"),
            )  # fmt: skip
        except client.ApiException as exc:
            if exc.status != 404:
                raise
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        left = api.list_cluster_custom_object(
            "kubeflow.org", "v1", "pytorchjobs", label_selector=selector, limit=1
        )["items"]
        if not left:
            break
        time.sleep(0.5)
    return len(items)
