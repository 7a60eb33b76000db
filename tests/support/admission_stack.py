"""Stacks for the admission scenarios: teams alpha and beta (the local tokens and namespaces)
with test-specific quotas and weights, and a capacity cap far below the shared cluster's, so a
scenario is deterministic however busy other tests keep the cluster. Only this stack's
instance's jobs count as running trainq jobs (its own Redis holds only its reservations)."""

import time

import redis
import yaml

from tests.support.stack import LOCAL_CONFIG, Stack, wait_until
from wrapper.redis import keys

GPU_JOB = {"cpu": "100m", "memory": "64Mi", "gpu": 1}


def teams(**overrides) -> list[dict]:
    """alpha and beta from the local config, each updated with overrides[name]."""
    raw = yaml.safe_load(LOCAL_CONFIG.read_text())
    out = []
    for team in raw["teams"]:
        if team["name"] in overrides:
            out.append({**team, **overrides[team["name"]]})
    return out


def quota(gpu: int, max_jobs: int = 100) -> dict:
    return {"max_running_jobs": max_jobs, "cpu": "64", "memory": "256Gi", "gpu": gpu}


def start(
    tmp_path,
    redis_url,
    kubeconfig,
    team_overrides: dict,
    cap_gpu: int,
    workers: int = 2,
    head_wait: float = 120.0,
) -> Stack:
    stack = Stack(
        tmp_path / "stack",
        redis_url,
        kubeconfig,
        teams=teams(**team_overrides),
        admission={
            "capacity_cap": {"cpu": "16", "memory": "64Gi", "gpu": cap_gpu},
            "head_wait_seconds": head_wait,
        },
    )
    stack.start_api()
    stack.start_watcher()
    for n in range(workers):
        stack.start_worker(f"w{n}")
    client = redis.Redis.from_url(redis_url)
    wait_until(
        "the watcher to cache the cluster capacity", lambda: client.exists(keys.CAPACITY), 30
    )
    return stack


def gpu_body(name: str, run_for: str = "2s", gpu: int = 1, workers: int = 0, **extra) -> dict:
    return {
        "name": name,
        "image": "docker.io/library/busybox:1.36",
        "command": ["sh", "-c", "echo training"],
        "workers": workers,
        "resources": {**GPU_JOB, "gpu": gpu},
        "annotations": {"trainq.dev/sim-run-for": run_for},
        **extra,
    }


def team_usage(client: redis.Redis, team: str) -> dict:
    raw = client.hgetall(keys.team_usage(team))
    return {k.decode(): int(v) for k, v in raw.items() if k != b"last_admitted"}


def sample(duration: float, fn, interval: float = 0.05) -> list:
    """fn() every interval for duration seconds; the results."""
    out, end = [], time.monotonic() + duration
    while time.monotonic() < end:
        out.append((time.monotonic(), fn()))
        time.sleep(interval)
    return out
