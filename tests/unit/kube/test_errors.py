"""How apiserver errors are classified (queue_workers.kube.client): what passes with time is
transient; 403 (RBAC) and 404 (a namespace or the CRD missing) wait for an operator, so they
are permanent, with a message that names the fix; a namespace deleted under a dispatch is
created again once before a 404 counts."""

import pytest
from kubernetes.client.rest import ApiException

from queue_workers.kube.client import Kube
from queue_workers.kube.errors import is_transient, permanent_message
from tests.support import REPO

KUBECONFIG = str(REPO / "tests/unit/data/unreachable-kubeconfig.yaml")


def api_error(status: int, message: str = "") -> ApiException:
    exc = ApiException(status=status, reason="R")
    exc.body = f'{{"message": "{message}", "reason": "R"}}' if message else None
    return exc


@pytest.mark.parametrize("status", [0, 401, 408, 409, 429, 500, 503])
def test_what_passes_with_time_is_transient(status):
    assert is_transient(api_error(status))


@pytest.mark.parametrize("status", [400, 403, 404, 422])
def test_what_needs_an_operator_or_another_object_is_permanent(status):
    assert not is_transient(api_error(status))


def test_an_exhausted_resource_quota_passes_with_time():
    assert is_transient(api_error(403, "pytorchjobs is forbidden: exceeded quota: gpus"))


def test_permanent_messages_keep_the_apiserver_words_and_name_the_fix():
    m404 = permanent_message(api_error(404, "namespaces team-x not found"), "team-x")
    assert "not found" in m404 and "kubectl create namespace team-x" in m404
    m403 = permanent_message(api_error(403, "forbidden"), "team-x")
    assert "forbidden" in m403 and "RBAC" in m403 and "team-x" in m403
    assert permanent_message(api_error(422, "spec invalid"), "team-x").endswith("spec invalid")


def test_a_404_rechecks_the_namespace_once_then_propagates():
    kube, calls = Kube(KUBECONFIG), []
    kube.ensure_namespace = lambda ns: calls.append(("ensure", ns))

    def create(namespace, body, backend=None):
        calls.append(("create", namespace))
        raise api_error(404, "not found")

    kube.create = create
    with pytest.raises(ApiException) as info:
        kube.create_or_adopt("team-a", {"metadata": {"name": "tq-1"}}, {}, "tq")
    assert info.value.status == 404
    assert calls == [("ensure", "team-a"), ("create", "team-a")] * 2
