"""The real apiserver's Pod Security Admission agrees: the pods trainq's PyTorchJobs produce are
admitted in a namespace labelled the way team namespaces are ("restricted"), the Worker with
the operator's init container from the local template too, while the operator's built-in init
container and a root pod are refused there; a team allowed root is admitted under "baseline".
A pod with its team's checkpoint claim is admitted there too. Server-side dry runs: nothing is
created but the namespaces."""

import secrets

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from queue_workers.kube import pytorchjob
from tests.support import LOCAL_CONFIG
from tests.unit.conftest import record
from tests.unit.kube.test_pod_security import (
    INIT_TEMPLATE,
    OPERATOR_DEFAULT_INIT,
    pods,
    with_operator_init,
)
from wrapper.config import load_config

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


@pytest.fixture
def namespaces(kube_api):
    core, made = client.CoreV1Api(kube_api), []

    def make(allow_root: bool) -> str:
        name = f"psa-{secrets.token_hex(4)}"
        labels = pytorchjob.namespace_labels(allow_root)
        core.create_namespace({"metadata": {"name": name, "labels": labels}})
        made.append(name)
        return name

    yield make
    for name in made:
        core.delete_namespace(name)


def admitted(kube_api, namespace: str, pod: dict) -> str | None:
    """None when the apiserver would create the pod, else its refusal."""
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "probe", **pod["metadata"]},
            "spec": pod["spec"]}  # fmt: skip
    try:
        client.CoreV1Api(kube_api).create_namespaced_pod(namespace, body, dry_run="All")
        return None
    except ApiException as exc:
        assert exc.status == 403, exc.body
        return exc.body


def test_restricted_admits_trainqs_pods_only(kube_api, namespaces):
    config = load_config(LOCAL_CONFIG)
    ns = namespaces(allow_root=False)
    built = pods(pytorchjob.build(record(), ns, "tq", config.team("alpha").pod_placement()))
    assert admitted(kube_api, ns, built["Master"]) is None
    worker = with_operator_init(built["Worker"], INIT_TEMPLATE.read_text())
    assert admitted(kube_api, ns, worker) is None
    refusal = admitted(kube_api, ns, with_operator_init(built["Worker"], OPERATOR_DEFAULT_INIT))
    assert refusal and "violates PodSecurity" in refusal and "init-pytorch" in refusal


def test_a_team_allowed_root_needs_baseline(kube_api, namespaces):
    team = load_config(LOCAL_CONFIG).team("alpha").model_copy(update={"allow_root": True})
    built = pods(pytorchjob.build(record(), "x", "tq", team.pod_placement()))
    restricted, baseline = namespaces(allow_root=False), namespaces(allow_root=True)
    assert "runAsNonRoot" in (admitted(kube_api, restricted, built["Master"]) or "")
    assert admitted(kube_api, baseline, built["Master"]) is None


def test_restricted_admits_pods_with_their_team_s_checkpoint_claim(kube_api, namespaces):
    ns = namespaces(allow_root=False)
    mount = pytorchjob.CheckpointMount("team-checkpoints", "/checkpoints")
    built = pods(pytorchjob.build(record(), ns, "tq", checkpoints=mount))
    assert built["Master"]["spec"]["volumes"][0]["persistentVolumeClaim"]
    assert admitted(kube_api, ns, built["Master"]) is None
    worker = with_operator_init(built["Worker"], INIT_TEMPLATE.read_text())
    assert admitted(kube_api, ns, worker) is None
