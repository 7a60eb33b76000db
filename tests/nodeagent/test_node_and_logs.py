"""Pure pieces of node registration and the log endpoint."""

import pytest
from nodeagent.logserver import tail_bytes
from nodeagent.node import machine_capacity, node_manifest, node_status, parse_labels, parse_taint


def test_parse_taint_and_labels():
    assert parse_taint("trainq.dev/local-node=true:NoSchedule") == {
        "key": "trainq.dev/local-node", "value": "true", "effect": "NoSchedule"}  # fmt: skip
    assert parse_taint("k:NoExecute") == {"key": "k", "effect": "NoExecute"}
    with pytest.raises(ValueError):
        parse_taint("k=v:Sometimes")
    assert parse_labels(["a=1", "b/c=2"]) == {"a": "1", "b/c": "2"}
    with pytest.raises(ValueError):
        parse_labels(["nolabel"])


def test_manifest_is_tainted_labelled_and_not_kwok():
    m = node_manifest("n1", {"trainq.dev/pool": "local"}, [parse_taint("k=v:NoSchedule")])
    assert m["metadata"]["labels"]["trainq.dev/pool"] == "local"
    assert m["metadata"]["labels"]["kubernetes.io/hostname"] == "n1"
    assert "annotations" not in m["metadata"]
    assert m["spec"]["taints"] == [{"key": "k", "value": "v", "effect": "NoSchedule"}]


def test_status_points_the_apiserver_at_our_log_endpoint():
    s = node_status({"cpu": "2", "memory": "1Ki", "pods": "110"}, 20250, True, "T")
    assert s["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 20250}}
    assert s["addresses"] == [{"type": "InternalIP", "address": "127.0.0.1"}]
    ready = next(c for c in s["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "True" and ready["lastHeartbeatTime"] == "T"
    assert s["allocatable"] == s["capacity"]
    down = node_status({}, 1, False, "T")
    assert next(c for c in down["conditions"] if c["type"] == "Ready")["status"] == "False"


def test_capacity_from_this_machine_with_overrides():
    cap = machine_capacity()
    assert int(cap["cpu"]) >= 1 and cap["memory"].endswith("Ki") and cap["pods"] == "110"
    assert machine_capacity("16", "64Gi")["cpu"] == "16"


def test_tail_bytes():
    assert tail_bytes(b"a\nb\nc\n", 2) == b"b\nc\n"
    assert tail_bytes(b"a\nb\nc", 1) == b"c"
    assert tail_bytes(b"a\n", 5) == b"a\n"
    assert tail_bytes(b"a\n", 0) == b""
