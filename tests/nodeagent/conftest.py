"""The node agent lives in k8s/local/nodeagent and is run with PYTHONPATH=k8s/local; its tests
import it the same way. The cluster tests' fixtures: a node agent of the module's own (unique
node name and pool label, so it runs beside other tests and a `make cluster-up` agent) and a
namespace for its pods."""

import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client

AGENT_PARENT = Path(__file__).resolve().parents[2] / "k8s" / "local"
if str(AGENT_PARENT) not in sys.path:
    sys.path.insert(0, str(AGENT_PARENT))

from tests.support import wait_until  # noqa: E402 - after the path setup
from tests.support.nodeagent import running_agent  # noqa: E402


@pytest.fixture(scope="module")
def core(kube_api):
    return client.CoreV1Api(kube_api)


@pytest.fixture(scope="module")
def agent(kubeconfig, core, tmp_path_factory):
    suffix = uuid.uuid4().hex[:6]
    with running_agent(kubeconfig, core, tmp_path_factory.mktemp("nodeagent"),
                       f"na-test-{suffix}", f"nodeagent-test-{suffix}") as agent:  # fmt: skip
        yield agent


@pytest.fixture(scope="module")
def namespace(core, agent):
    """A namespace for this module's jobs; deleted while the agent still runs, so the pods'
    processes are stopped and their objects removed."""
    name = f"na-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_until("the default service account",
               lambda: core.list_namespaced_service_account(name).items, timeout=30)  # fmt: skip
    yield name
    core.delete_namespace(name)

    def gone():
        try:
            core.read_namespace(name)
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_until("the namespace to go", gone, timeout=60)
