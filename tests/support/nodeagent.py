"""A node agent of a test's own (k8s/local/nodeagent): a real subprocess, started the way
cluster-up.sh starts it, registering a node with a unique name and pool label, so its pods run
beside other tests and the `make cluster-up` agent, and always from the code under test."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from kubernetes import client

from tests.support import REPO, wait_until


class Agent:
    """The agent as a real subprocess, the way cluster-up.sh starts it."""

    def __init__(self, kubeconfig: str, state_dir: Path, node: str, pool: str):
        self.kubeconfig, self.state_dir, self.node, self.pool = kubeconfig, state_dir, node, pool
        self.proc: subprocess.Popen | None = None
        self.log = state_dir / "agent.log"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO / "k8s/local")}
        self.state_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nodeagent", "--kubeconfig", self.kubeconfig,
                 "--node-name", self.node, "--port", "0", "--state-dir", str(self.state_dir),
                 "--label", f"trainq.dev/pool={self.pool}"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def node_ready(core, name):
    try:
        node = core.read_node(name)
    except client.ApiException:
        return False
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    # The node-lifecycle controller lifts its not-ready taint a few seconds after Ready.
    lifecycle_taints = [
        t for t in node.spec.taints or [] if t.key.startswith("node.kubernetes.io/")
    ]
    return ready and not lifecycle_taints


@contextlib.contextmanager
def running_agent(kubeconfig: str, core: client.CoreV1Api, state_dir: Path, node: str, pool: str):
    """An agent whose node is Ready (and untainted by the node lifecycle) until the block ends;
    then stopped and its node deleted."""
    agent = Agent(kubeconfig, state_dir, node, pool)
    agent.start()
    try:
        wait_until("the node to be Ready", lambda: node_ready(core, agent.node), timeout=30)
        yield agent
    finally:
        agent.stop()
        with contextlib.suppress(client.ApiException):
            core.delete_node(agent.node)
        if agent.proc and agent.proc.returncode not in (0, None):
            print(agent.log.read_text()[-4000:])


@contextlib.contextmanager
def pinned_local_stack(tmp_path: Path, kubeconfig: str, core: client.CoreV1Api,
                       redis_url: str, prefix: str, local: dict | None = None,
                       **overrides):  # fmt: skip
    """The whole flow (API, worker, watcher) with team `local` pinned to a node agent of the
    test's own (real processes, real logs): (stack, agent). `local`: more settings of team
    local; `overrides`: config sections, as for Stack."""
    import uuid

    import yaml

    from tests.support import LOCAL_CONFIG
    from tests.support.stack import Stack

    pool = f"{prefix}-{uuid.uuid4().hex[:6]}"
    with running_agent(kubeconfig, core, tmp_path / "agent", pool, pool) as agent:
        teams = yaml.safe_load(LOCAL_CONFIG.read_text())["teams"]
        for team in teams:
            if team["name"] == "local":
                team.update({"node_selector": {"trainq.dev/pool": pool}, **(local or {})})
        stack = Stack(tmp_path / "stack", redis_url, kubeconfig, teams=teams, **overrides)
        try:
            stack.start_all()
            yield stack, agent
        finally:
            stack.close()
