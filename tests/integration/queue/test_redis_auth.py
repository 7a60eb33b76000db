"""The local stack's Redis requires a password (k8s/local/redis-up.sh, on a port and directory
of this test's own): unauthenticated clients are refused, the URL env.sh builds works, the
password is on no command line, and a Redis started before it required one (whose clients
are connected) is made to require it in place, without a restart."""

import os
import secrets
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.support import REPO, free_port

pytestmark = pytest.mark.integration
LOCAL = REPO / "k8s/local"


@pytest.fixture
def env(tmp_path):
    port, password = free_port(), secrets.token_hex(8)
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "REDISCLI_AUTH")}
    # Every path of its own (env.sh, when sourced, exported the shared stack's pid and log
    # directories: this test's redis-down.sh must never stop the shared Redis).
    env.update(
        REDIS_PORT=str(port),
        REDIS_PASSWORD=password,
        TRAINQ_LOCAL=str(tmp_path),
        TRAINQ_RUN=str(tmp_path / "run"),
        TRAINQ_LOGS=str(tmp_path / "logs"),
    )
    yield env
    subprocess.run([LOCAL / "redis-down.sh"], env=env, capture_output=True, timeout=30)


def run(script: str, env: dict) -> str:
    proc = subprocess.run([LOCAL / script], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stderr


def url(env: dict, password: str | None = None) -> str:
    """env.sh's URL (the env's password), or one with another password ("": none)."""
    pw = env["REDIS_PASSWORD"] if password is None else password
    auth = f"default:{pw}@" if pw else ""
    return f"redis://{auth}127.0.0.1:{env['REDIS_PORT']}/0"


def pid(env: dict) -> int:
    return int((Path(env["TRAINQ_LOCAL"]) / "run/redis.pid").read_text())


def test_redis_up_requires_the_password(env):
    run("redis-up.sh", env)
    for other in ("", "wrong"):
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis.from_url(url(env, other)).ping()
    assert redis.Redis.from_url(url(env)).ping()
    cmdline = Path(f"/proc/{pid(env)}/cmdline").read_bytes().decode()
    assert env["REDIS_PASSWORD"] not in cmdline
    conf = Path(env["TRAINQ_LOCAL"]) / "redis/auth.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    first = pid(env)
    assert "starting" not in run("redis-up.sh", env) and pid(env) == first  # a no-op now


def test_a_redis_without_password_is_made_to_require_one_in_place(env):
    """What `make redis-up` does to a Redis started before this change: no restart, the data
    and the connected clients stay; from then on a new client needs the password."""
    directory, run_dir = Path(env["TRAINQ_LOCAL"]) / "redis", Path(env["TRAINQ_LOCAL"]) / "run"
    directory.mkdir()
    run_dir.mkdir()
    old = subprocess.Popen(
        ["redis-server", "--port", env["REDIS_PORT"], "--bind", "127.0.0.1", "--dir",
         str(directory), "--appendonly", "yes", "--save", ""],
        stdout=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    (run_dir / "redis.pid").write_text(str(old.pid))
    connected = redis.Redis.from_url(url(env, ""))
    deadline = time.monotonic() + 10
    while True:
        try:
            connected.set("kept", "1")
            break
        except redis.exceptions.ConnectionError:
            assert time.monotonic() < deadline
            time.sleep(0.1)
    assert redis.Redis.from_url(url(env)).ping()  # env.sh's URL works before, too
    assert "requiring one from now on" in run("redis-up.sh", env)
    assert pid(env) == old.pid and old.poll() is None
    assert connected.get("kept") == b"1"
    with pytest.raises(redis.exceptions.AuthenticationError):
        redis.Redis.from_url(url(env, "")).ping()
    assert redis.Redis.from_url(url(env)).get("kept") == b"1"
