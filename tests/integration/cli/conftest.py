"""Running the `trainq` CLI against a real stack: typer's test runner in-process (the CLI
speaks HTTP to the stack's gunicorn API), with no user config file, and the stacks the
tests need: one whose jobs stay queued until the test starts a worker, and one whose team
`local` runs real processes on a node agent of its own (for logs)."""

import pytest
from kubernetes import client
from typer.testing import CliRunner

from tests.support.nodeagent import pinned_local_stack
from tests.support.stack import TOKENS, Stack
from wrapper.cli.app import app


@pytest.fixture
def trainq(tmp_path, monkeypatch):
    """`trainq(stack, *args, team=..., token=...)` -> click Result."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "no-config"))
    for name in ("TRAINQ_URL", "TRAINQ_TOKEN", "TRAINQ_TEAM", "TRAINQ_CLI_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()

    def run(stack: Stack, *args: str, team: str = "alpha", token: str | None = None):
        base = ["--url", stack.api.base, "--token", TOKENS.get(token or team, token),
                "--team", team]  # fmt: skip
        return runner.invoke(app, [*base, *args], env={"COLUMNS": "200"})

    return run


@pytest.fixture
def queued_stack(private_stack):
    """The API and the watcher, no worker yet: submitted jobs wait in their queue."""
    private_stack.start_api()
    private_stack.start_watcher()
    return private_stack


@pytest.fixture
def local_stack(tmp_path, kubeconfig, kube_api, private_redis):
    """The whole flow, team `local` pinned to a node agent of this test's own (real processes,
    so real logs)."""
    with pinned_local_stack(
        tmp_path, kubeconfig, client.CoreV1Api(kube_api), private_redis.url, "cli"
    ) as (stack, _):
        yield stack
