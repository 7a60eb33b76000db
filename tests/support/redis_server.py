"""A throw-away redis-server with AOF persistence in a directory of its own, which a test (or
the chaos run) may crash with SIGKILL and start again on the same port and data: what a
restarted Redis pod with a persistent volume does. Like every Redis of trainq's it requires a
password (in its URL; the server reads it from a config file)."""

import secrets
import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.support import free_port


class PrivateRedis:
    def __init__(self, directory: Path):
        directory.mkdir(parents=True, exist_ok=True)
        self.dir, self.port, self.proc = directory, free_port(), None
        self.password = secrets.token_hex(16)
        self.url = f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        conf = self.dir / "auth.conf"
        conf.write_text(f"requirepass {self.password}\n")
        self.proc = subprocess.Popen(
            [shutil.which("redis-server") or "redis-server", str(conf), "--port", str(self.port),
             "--bind", "127.0.0.1", "--dir", str(self.dir), "--appendonly", "yes",
             "--appendfsync", "everysec", "--save", ""],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return
            except redis.exceptions.RedisError:
                time.sleep(0.1)
        raise RuntimeError("private redis-server did not start")

    def crash(self) -> None:
        self.proc.kill()
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
