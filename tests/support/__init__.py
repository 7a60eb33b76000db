"""Helpers every test directory shares: where the repository and the local configuration are,
free and closed local ports, and waiting for a condition. Starting trainq's processes lives
in `tests.support.stack` (and `admission_stack` for the admission scenarios); admitting a job
the way a worker does, without one, in `tests.support.admit`."""

import socket
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL_CONFIG = REPO / "k8s/local/trainq.yaml"


def free_port() -> int:
    """A local port nothing listens on now (bound then released), to start a server on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(what: str, fn, timeout: float = 60, interval: float = 0.2):
    """Poll fn until it returns something truthy; fail with the last value after timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")
