"""Starting trainq's processes for a test, the way `make up` does: the API under gunicorn, RQ
workers (`python -m queue_workers`) and the watcher (`python -m queue_workers.watcher`), each a
real subprocess with its own log, and an HTTP client for the API."""

import json
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import requests
import yaml
from kubernetes import client, config

from queue_workers.kube import backends
from queue_workers.watcher.leader import lease_name, lease_namespace
from tests.support import LOCAL_CONFIG, REPO, free_port, trainer_v2, wait_until

TOKENS = {
    "alpha": "alpha-dev-token",
    "beta": "beta-dev-token",
    "local": "local-dev-token",
    "admin": "admin-dev-token",
}
TERMINAL = {"succeeded", "failed", "cancelled"}
FAST = {"trainq.dev/sim-run-for": "1s"}


class Api:
    def __init__(self, base_url: str):
        self.base = base_url
        self.http = requests.Session()

    def _h(self, token: str, extra: dict | None = None) -> dict:
        return {"Authorization": f"Bearer {TOKENS.get(token, token)}", **(extra or {})}

    def submit(self, team: str, body: dict, token: str | None = None, **headers):
        return self.http.post(f"{self.base}/v1/teams/{team}/jobs", json=body,
                              headers=self._h(token or team, headers), timeout=10)  # fmt: skip

    def job(self, team: str, job_id: int, token: str | None = None):
        return self.http.get(f"{self.base}/v1/teams/{team}/jobs/{job_id}",
                             headers=self._h(token or team), timeout=10)  # fmt: skip

    def cancel(self, team: str, job_id: int, token: str | None = None):
        return self.http.delete(f"{self.base}/v1/teams/{team}/jobs/{job_id}",
                                headers=self._h(token or team), timeout=10)  # fmt: skip

    def act(self, team: str, job_id: int, action: str, token: str | None = None):
        """POST .../jobs/{id}/{action} (suspend, resume)."""
        return self.http.post(f"{self.base}/v1/teams/{team}/jobs/{job_id}/{action}",
                              headers=self._h(token or team), timeout=10)  # fmt: skip

    def queue(self, team: str, token: str | None = None):
        return self.http.get(f"{self.base}/v1/teams/{team}/queue",
                             headers=self._h(token or team), timeout=10)  # fmt: skip

    def record(self, team: str, job_id: int) -> dict:
        response = self.job(team, job_id)
        assert response.status_code == 200, response.text
        return response.json()

    def submit_ok(self, team: str, body: dict) -> dict:
        response = self.submit(team, body)
        assert response.status_code == 202, response.text
        return response.json()

    def wait_status(self, team: str, job_id: int, statuses, timeout: float = 60) -> dict:
        statuses = {statuses} if isinstance(statuses, str) else set(statuses)

        def check():
            rec = self.record(team, job_id)
            return rec if rec["status"] in statuses else None

        return wait_until(f"job {job_id} in {statuses}", check, timeout)


def job_body(name: str, workers: int = 1, annotations: dict | None = None, **extra) -> dict:
    """A small job that fits the fake nodes many times over."""
    return {
        "name": name,
        "image": "docker.io/library/busybox:1.36",
        "command": ["sh", "-c", "echo training"],
        "workers": workers,
        "resources": {"cpu": "100m", "memory": "64Mi"},
        "annotations": {**FAST, **(annotations or {})},
        **extra,
    }


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class Stack:
    def __init__(self, directory: Path, redis_url: str, kubeconfig: str,
                 backend: str = "pytorchjob", **config_overrides):  # fmt: skip
        """backend: what every team's jobs run as (`teams[].backend`)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.dir, self.redis_url, self.kubeconfig = directory, redis_url, kubeconfig
        self.instance = "t" + secrets.token_hex(4)
        self.backend = backends.BACKENDS[backend]
        raw = yaml.safe_load(LOCAL_CONFIG.read_text())
        raw["instance"] = self.instance
        # The API's port is chosen now: its URL is the training-metrics channel the trainers
        # of this stack's jobs report to (dispatch.metrics_url; a test may override it).
        self.api_port = free_port()
        raw.setdefault("dispatch", {})["metrics_url"] = f"http://127.0.0.1:{self.api_port}"
        for section, values in config_overrides.items():
            if isinstance(values, dict):
                raw.setdefault(section, {}).update(values)
            else:
                raw[section] = values
        for team in raw["teams"]:
            team["backend"] = backend
            if backend == "trainjob":  # (no pod retries: failing jobs end in seconds)
                team["trainjob_runtime"] = trainer_v2.SUITE_RUNTIME
        self.config_path = directory / "trainq.yaml"
        self.config_path.write_text(yaml.safe_dump(raw))
        self.env = {
            **os.environ,
            "TRAINQ_CONFIG": str(self.config_path),
            "REDIS_URL": redis_url,
            "KUBECONFIG": kubeconfig,
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.env.pop("TRAINQ_METRICS_PORT", None)  # one per stack: start_api(metrics_port=)
        self.procs: dict[str, subprocess.Popen] = {}
        self.api: Api | None = None

    def _start(self, name: str, argv: list[str], extra_env: dict | None = None):
        log = open(self.dir / f"{name}.log", "ab")  # closed with the process
        proc = subprocess.Popen(argv, cwd=REPO, env={**self.env, **(extra_env or {})},
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
        self.procs[name] = proc
        return proc

    def start_api(self, metrics_port: int | None = None, workers: int = 1) -> Api:
        port = self.api_port
        extra = {"TRAINQ_API_PORT": str(port)}
        if metrics_port:
            extra["TRAINQ_METRICS_PORT"] = str(metrics_port)
        self._start(
            "api",
            [sys.executable, "-m", "gunicorn", "-c", "wrapper/gunicorn.conf.py",
             "--workers", str(workers), "--threads", "8", "wrapper.wsgi:app"],
            extra,
        )  # fmt: skip
        self.api = Api(f"http://127.0.0.1:{port}")

        def healthy():
            try:
                return self.api.http.get(self.api.base + "/healthz", timeout=1).ok
            except requests.RequestException:
                return False

        wait_until("the API to answer /healthz", healthy, timeout=30)
        return self.api

    def start_worker(self, name: str, extra_env: dict | None = None):
        return self._start(name, [sys.executable, "-m", "queue_workers", "--name",
                                  f"{self.instance}-{name}"], extra_env)  # fmt: skip

    def start_watcher(self, name: str = "watcher", extra_env: dict | None = None):
        return self._start(name, [sys.executable, "-m", "queue_workers.watcher"], extra_env)

    def start_all(self) -> Api:
        """The API, one worker (`w1`) and the watcher: the whole flow, as most tests want it."""
        api = self.start_api()
        self.start_worker("w1")
        self.start_watcher()
        return api

    def kill(self, name: str, sig=signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        proc.send_signal(sig)
        proc.wait(20)

    def log(self, name: str) -> str:
        path = self.dir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def custom_api(self) -> client.CustomObjectsApi:
        return client.CustomObjectsApi(config.new_client_from_config(config_file=self.kubeconfig))

    def lease(self) -> dict | None:
        """The watchers' leader-election Lease (queue_workers.watcher.leader), as plain JSON."""
        api = client.CoordinationV1Api(config.new_client_from_config(config_file=self.kubeconfig))
        try:
            response = api.read_namespaced_lease(lease_name(self.instance),
                                                 lease_namespace(self.env),
                                                 _preload_content=False)  # fmt: skip
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return json.loads(response.data)

    def pytorchjobs(self, namespace: str, job_id: int | None = None) -> list[dict]:
        """This stack's workloads: PyTorchJobs, or TrainJobs on a Trainer v2 stack."""
        selector = f"trainq.dev/instance={self.instance}"
        if job_id is not None:
            selector += f",trainq.dev/job-id={job_id}"
        b = self.backend
        return self.custom_api().list_namespaced_custom_object(
            b.group, b.version, namespace, b.plural, label_selector=selector
        )["items"]

    def pods(self, namespace: str, name: str) -> list[dict]:
        """A workload's pods (as plain JSON)."""
        api = client.CoreV1Api(config.new_client_from_config(config_file=self.kubeconfig))
        selector = self.backend.pod_selector(name)
        response = api.list_namespaced_pod(namespace, label_selector=selector,
                                           _preload_content=False)  # fmt: skip
        return json.loads(response.data)["items"]

    def close(self) -> None:
        for name in list(self.procs):
            proc = self.procs.pop(name)
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
        self._delete_pytorchjobs()
        self._delete_lease()

    def _delete_lease(self) -> None:
        """The watchers' Lease outlives them (a stopped leader only hands it back)."""
        try:
            client.CoordinationV1Api(
                config.new_client_from_config(config_file=self.kubeconfig)
            ).delete_namespaced_lease(lease_name(self.instance), lease_namespace(self.env))
        except Exception as exc:  # noqa: BLE001 - best-effort cleanup
            if getattr(exc, "status", None) != 404:
                print(f"cleanup of {self.instance}'s watcher lease failed: {exc}")

    def _delete_pytorchjobs(self) -> None:
        """Remove this stack's workloads (their pods go with them) so runs do not pile up."""
        b = self.backend
        try:
            api = self.custom_api()
            items = api.list_cluster_custom_object(
                b.group, b.version, b.plural,
                label_selector=f"trainq.dev/instance={self.instance}",
            )["items"]  # fmt: skip
            for obj in items:
                meta = obj["metadata"]
                api.delete_namespaced_custom_object(
                    b.group, b.version, meta["namespace"], b.plural, meta["name"],
                    body=client.V1DeleteOptions(propagation_policy="Background"),
                )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - best-effort cleanup
            print(f"cleanup of {self.instance} PyTorchJobs failed: {exc}")
