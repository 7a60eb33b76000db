"""How a watch stream is read (queue_workers.kube.client), with a fake apiserver response:
events as plain JSON, 410 Gone as ResourceExpired, other error events as ApiException."""

import json
import threading

import pytest
from kubernetes.client.rest import ApiException

from queue_workers.kube.client import BOUND_PODS, WATCH_SECONDS, Kube
from queue_workers.kube.errors import ResourceExpired
from tests.support import REPO

KUBECONFIG = str(REPO / "tests/unit/data/unreachable-kubeconfig.yaml")


class Response:
    def __init__(self, events):
        self.body = "".join(json.dumps(e) + "\n" for e in events).encode()
        self.closed = self.released = False

    def stream(self, amt=None, decode_content=False):
        yield from (self.body[i : i + 7] for i in range(0, len(self.body), 7))  # split lines

    def close(self):
        self.closed = True

    def release_conn(self):
        self.released = True


def fake_watch(events, calls):
    def list_call(**kwargs):
        calls.append(kwargs)
        calls.append(Response(events))
        return calls[-1]

    return list_call


def pod_event(kind, name, rv):
    return {"type": kind, "object": {"metadata": {"name": name, "resourceVersion": rv}}}


def test_pod_events_are_plain_json_from_the_given_version_with_the_bound_pods_selector():
    kube, calls = Kube(KUBECONFIG), []
    kube.core.list_pod_for_all_namespaces = fake_watch(
        [pod_event("ADDED", "a", "11"), {"type": "BOOKMARK",
         "object": {"metadata": {"resourceVersion": "12"}}}], calls)  # fmt: skip
    events = list(kube.pod_events("10", threading.Event()))
    assert events == [("ADDED", pod_event("ADDED", "a", "11")["object"]),
                      ("BOOKMARK", {"metadata": {"resourceVersion": "12"}})]  # fmt: skip
    kwargs, response = calls
    assert kwargs["field_selector"] == BOUND_PODS and kwargs["resource_version"] == "10"
    assert kwargs["watch"] and kwargs["timeout_seconds"] == WATCH_SECONDS
    assert kwargs["allow_watch_bookmarks"] and response.closed and response.released


def test_410_gone_in_the_stream_or_on_opening_it_is_resource_expired():
    kube, calls = Kube(KUBECONFIG), []
    status = {"kind": "Status", "code": 410, "reason": "Expired", "message": "too old: 1 (300)"}
    gone = {"type": "ERROR", "object": status}
    kube.core.list_node = fake_watch([pod_event("ADDED", "n", "2"), gone], calls)
    stream = kube.node_events("1", threading.Event())
    assert next(stream)[0] == "ADDED"
    with pytest.raises(ResourceExpired):
        next(stream)
    assert calls[1].closed

    def refuses(**kwargs):
        raise ApiException(status=410, reason="Gone")

    kube.core.list_node = refuses
    with pytest.raises(ResourceExpired):
        next(kube.node_events("1", threading.Event()))


def test_another_error_event_is_an_api_exception_and_stop_ends_the_stream():
    kube, calls = Kube(KUBECONFIG), []
    broken = {"type": "ERROR", "object": {"code": 500, "reason": "InternalError",
                                          "message": "etcd"}}  # fmt: skip
    kube.core.list_pod_for_all_namespaces = fake_watch([broken], calls)
    with pytest.raises(ApiException) as info:
        list(kube.pod_events("5", threading.Event()))
    assert info.value.status == 500
    stop = threading.Event()
    stop.set()
    kube.core.list_pod_for_all_namespaces = fake_watch([pod_event("ADDED", "a", "6")], calls)
    assert list(kube.pod_events("5", stop)) == []
