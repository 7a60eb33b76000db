"""Fixtures for integration tests: real Redis (the shared one from `make test`, one DB per
xdist worker and purpose, or a private throw-away redis-server), the real local control plane,
and trainq's processes started as real subprocesses (see `stack.py`)."""

import os
from urllib.parse import urlparse

import pytest
import redis

from tests.support import LOCAL_CONFIG, trainer_v2
from tests.support.redis_server import PrivateRedis
from tests.support.stack import Stack
from wrapper.config import Settings, load_config

# k8s/local/env.sh's default (Redis requires a password there).
SHARED_REDIS = os.environ.get("REDIS_URL", "redis://default:trainq-local-redis@127.0.0.1:6390/0")


def xdist_index() -> int:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(worker[2:]) if worker.startswith("gw") else 0


def db_url(purpose: int) -> str:
    """The shared Redis, DB 1 + 2*worker + purpose (DB 0 is left to `make up`), with the
    shared URL's password (Redis requires one: k8s/local/env.sh)."""
    parsed = urlparse(SHARED_REDIS)
    return parsed._replace(path=f"/{1 + 2 * xdist_index() + purpose}").geturl()


@pytest.fixture(scope="session")
def shared_redis_up():
    client = redis.Redis.from_url(SHARED_REDIS, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.fail(f"Redis not reachable at {SHARED_REDIS} ({exc}): run `make redis-up`")


@pytest.fixture
def scratch_url(shared_redis_up) -> str:
    """A DB of the shared Redis, emptied before each test, that no trainq process uses."""
    url = db_url(0)
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def local_config():
    return load_config(LOCAL_CONFIG)


@pytest.fixture
def private_redis(tmp_path):
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def api_settings():
    def make(redis_url: str) -> Settings:
        return Settings(str(LOCAL_CONFIG), redis_url, os.environ.get("KUBECONFIG"))

    return make


# --- process stacks against the control plane --------------------------------------------
def _serving(s: Stack) -> Stack:
    """The session stacks' processes: the API, two RQ workers and the watcher."""
    s.start_api()
    s.start_worker("w1")
    s.start_worker("w2")
    s.start_watcher()
    return s


@pytest.fixture(scope="session")
def stack(request, tmp_path_factory, kubeconfig, kube_api, shared_redis_up):
    """API (gunicorn) + 2 RQ workers + watcher on this xdist worker's stack DB, with a unique
    instance name so PyTorchJob names never collide with other runs or workers."""
    url = db_url(1)
    redis.Redis.from_url(url).flushdb()
    s = Stack(tmp_path_factory.mktemp("stack"), url, kubeconfig)
    request.addfinalizer(s.close)
    return _serving(s)


@pytest.fixture
def private_stack(tmp_path, kubeconfig, kube_api, private_redis):
    """A stack of its own (own Redis, own instance) that a test may break: kill workers,
    restart the watcher. Processes are started by the test."""
    s = Stack(tmp_path / "stack", private_redis.url, kubeconfig)
    yield s
    s.close()


# --- both backends: the suites that must pass on PyTorchJobs and on Trainer v2 TrainJobs ----
@pytest.fixture(scope="session")
def trainjob_stack(request, tmp_path_factory, kubeconfig, kube_api):
    """As `stack`, with every team on the TrainJob backend (fail-fast runtime), on a Redis of
    its own; skipped where Trainer v2 does not run."""
    trainer_v2.require()
    directory = tmp_path_factory.mktemp("trainjob-stack")
    server = PrivateRedis(directory)
    server.start()
    request.addfinalizer(server.stop)
    s = Stack(directory / "stack", server.url, kubeconfig, backend="trainjob")
    request.addfinalizer(s.close)
    return _serving(s)


@pytest.fixture(params=trainer_v2.BACKENDS)
def any_stack(request):
    """The session's stack of each backend in turn (`stack`, `trainjob_stack`)."""
    return request.getfixturevalue("stack" if request.param == "pytorchjob" else "trainjob_stack")


@pytest.fixture(params=trainer_v2.BACKENDS)
def any_private_stack(request, tmp_path, kubeconfig, kube_api, private_redis):
    """As `private_stack`, once per backend."""
    if request.param == "trainjob":
        trainer_v2.require()
    s = Stack(tmp_path / "stack", private_redis.url, kubeconfig, backend=request.param)
    yield s
    s.close()
