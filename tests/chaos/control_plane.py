"""Stopping and starting one component of the local control plane (k8s/local/cluster-up.sh)
the way a crashed static pod is restarted: the same command line, environment and working
directory, read from /proc before the kill; the new process takes over the pid file and log,
so `make cluster-down` still stops it."""

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import requests
import urllib3

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)  # the local CA: not checked


@dataclass
class Component:
    name: str  # as in cluster-up.sh: etcd, kube-apiserver, training-operator, ...
    run_dir: Path
    log_dir: Path
    argv: list[str] | None = None
    env: dict | None = None
    cwd: str | None = None

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    def pid(self) -> int:
        return int(self.pid_file.read_text().strip())

    def kill(self) -> None:
        """SIGKILL its process group, having noted how to start it again."""
        pid = self.pid()
        proc = Path(f"/proc/{pid}")
        self.argv = (proc / "cmdline").read_bytes().rstrip(b"\0").decode().split("\0")
        pairs = (proc / "environ").read_bytes().rstrip(b"\0").decode().split("\0")
        self.env = dict(p.split("=", 1) for p in pairs if "=" in p)
        self.cwd = os.readlink(proc / "cwd")
        try:
            os.killpg(pid, signal.SIGKILL)  # started with setsid: its group is its pid
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def start(self) -> None:
        assert self.argv, "kill() first: it notes the command line"
        log = open(self.log_dir / f"{self.name}.log", "ab")
        proc = subprocess.Popen(self.argv, env=self.env, cwd=self.cwd, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)  # fmt: skip
        log.close()
        self.pid_file.write_text(f"{proc.pid}\n")


def wait_healthy(url: str, timeout: float = 120, verify: bool = False) -> float:
    """Seconds until `url` answers 200 (an apiserver's /readyz, etcd's /health, ...)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            if requests.get(url, timeout=2, verify=verify).status_code == 200:
                return time.monotonic() - t0
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy within {timeout:.0f} s")
