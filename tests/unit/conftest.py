"""Fixtures for unit tests: no Redis, no Kubernetes."""

import pytest

from tests.support import LOCAL_CONFIG, REPO, free_port
from wrapper.api.app import create_app
from wrapper.config import Settings, TrainqConfig, load_config

ALPHA = {"Authorization": "Bearer alpha-dev-token"}
BETA = {"Authorization": "Bearer beta-dev-token"}
ADMIN = {"Authorization": "Bearer admin-dev-token"}


@pytest.fixture(scope="session")
def config() -> TrainqConfig:
    return load_config(LOCAL_CONFIG)


@pytest.fixture
def offline_app(config):
    """The API with Redis and the apiserver unreachable: everything decided before touching
    Redis (auth, scoping, parsing, validation) is testable, and the rest must answer 503."""
    port = free_port()  # nothing listens there
    kubeconfig = REPO / "tests/unit/data/unreachable-kubeconfig.yaml"
    settings = Settings(str(LOCAL_CONFIG), f"redis://127.0.0.1:{port}/0", str(kubeconfig))
    app = create_app(config, settings)
    return app


@pytest.fixture
def client(offline_app):
    return offline_app.test_client()


def record(job_id=7, team="alpha", **spec_overrides) -> dict:
    """A job record as the store holds it after submission (defaults of the local config)."""
    spec = {
        "name": "resnet",
        "image": "docker.io/library/busybox:1.36",
        "command": ["python", "train.py"],
        "args": ["--epochs", "3"],
        "env": {"LR": "0.1", "BATCH": "64"},
        "workers": 2,
        "resources": {"cpu": "2", "memory": "4Gi", "gpu": 1},
        "priority": 0,
        "max_runtime_seconds": 3600,
        "backoff_limit": 2,
        "restart_policy": "OnFailure",
        "dataset": {"id": "imdb", "version_hash": "hash-1"},
        "labels": {"project": "vision"},
        "annotations": {"trainq.dev/sim-run-for": "3s"},
    }
    spec.update(spec_overrides)
    return {"id": job_id, "team": team, "name": spec["name"], "status": "dispatching",
            "spec": spec, "uid": "0123456789abcdef"}  # fmt: skip
