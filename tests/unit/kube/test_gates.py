"""Placement gates, pure (queue_workers.kube.gates) and the watcher's use of them
(queue_workers.watcher.gates) against a stub client; tests/integration/admission/
test_placement.py binds real pods through the real scheduler."""

import threading

import pytest

from queue_workers.kube import pytorchjob
from queue_workers.kube.gates import GATE, counted_node, gate_at, lift
from queue_workers.watcher.gates import PlacementGates
from tests.unit.conftest import record
from wrapper.config import TrainqConfig

TERMS = "/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution" \
    "/nodeSelectorTerms"  # fmt: skip


def pod(kind: str, index: int, gates=(GATE,), nodes=("a", "b")) -> dict:
    terms = [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [n]}]}
             for n in nodes]  # fmt: skip
    return {
        "metadata": {"namespace": "team-alpha", "name": f"tq-7-{kind}-{index}",
                     "labels": {"app.kubernetes.io/managed-by": "trainq",
                                "trainq.dev/instance": "tq", "trainq.dev/job-id": "7",
                                "training.kubeflow.org/replica-type": kind,
                                "training.kubeflow.org/replica-index": str(index)}},
        "spec": {"schedulingGates": [{"name": g} for g in gates],
                 "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                               {"nodeSelectorTerms": terms}}}},
    }  # fmt: skip


def test_a_template_pinned_to_a_set_of_nodes_is_gated_and_others_are_not():
    def gated(counted):
        body = pytorchjob.build(record(workers=2), "team-alpha", "tq", counted=counted)
        return {kind: "schedulingGates" in replicas["template"]["spec"]
                for kind, replicas in body["spec"]["pytorchReplicaSpecs"].items()}  # fmt: skip

    # The Workers' one template names two nodes: which Worker goes where needs the gate.
    assert gated(["a", "b", "c"]) == {"Master": False, "Worker": True}
    # A pin to one node is exact already (the Master always; Workers counted on one node).
    assert gated(["a", "b", "b"]) == {"Master": False, "Worker": False}
    assert gated(None) == {"Master": False, "Worker": False}  # counted in sums: no pin
    body = pytorchjob.build(record(workers=2), "team-alpha", "tq", counted=["a", "b", "c"])
    spec = body["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]
    assert spec["schedulingGates"] == [{"name": GATE}]


def test_each_replica_reads_its_own_node():
    counted = ["m", "w0", "w1"]
    assert counted_node(pod("master", 0), counted) == "m"
    assert counted_node(pod("worker", 1), counted) == "w1"
    assert counted_node(pod("worker", 2), counted) is None  # (no node for it)
    assert counted_node(pod("launcher", 0), counted) is None
    assert counted_node(pod("worker", 0), []) is None


def test_lift_narrows_every_term_then_removes_the_gate():
    p = pod("worker", 0, gates=("other", GATE))
    assert gate_at(p) == 1
    only = {"key": "metadata.name", "operator": "In", "values": ["b"]}
    assert lift(p, "b") == [
        {"op": "test", "path": "/spec/schedulingGates/1/name", "value": GATE},
        {"op": "remove", "path": "/spec/schedulingGates/1"},
        {"op": "add", "path": f"{TERMS}/0/matchFields/-", "value": only},
        {"op": "add", "path": f"{TERMS}/1/matchFields/-", "value": only},
    ]
    assert lift(p, None) == lift(p, "b")[:2]
    assert lift(pod("worker", 0, gates=("other",)), "b") == []


class StubKube:
    def __init__(self, refuse: int = 0):
        self.patches: list[tuple[str, list]] = []
        self.refuse = refuse  # how many patches fail first

    def patch_pod(self, namespace: str, name: str, ops: list) -> bool:
        self.patches.append((name, ops))
        if self.refuse:
            self.refuse -= 1
            raise RuntimeError("422 Unprocessable Entity")
        return True


class StubStore:
    def __init__(self, counted: list[str]):
        self.counted = counted

    def counted_nodes(self, job_id: int) -> list[str]:
        assert job_id == 7
        return self.counted


@pytest.fixture
def tq(config) -> TrainqConfig:
    return config.model_copy(update={"instance": "tq"})


def test_the_watcher_lets_each_gated_pod_go_to_its_node(tq):
    kube = StubKube()
    gates = PlacementGates(tq, StubStore(["a", "b", "a"]), kube, threading.Event())
    gates.on_list([pod("master", 0), pod("worker", 1), pod("worker", 0, gates=())])
    gates.on_event("DELETED", pod("worker", 0))
    assert [(name, ops[-1]["value"]["values"]) for name, ops in kube.patches] == [
        ("tq-7-master-0", ["a"]), ("tq-7-worker-1", ["a"])]  # fmt: skip


def test_a_refused_narrowing_still_lets_the_pod_go(tq):
    kube = StubKube(refuse=1)
    gates = PlacementGates(tq, StubStore(["a", "b"]), kube, threading.Event())
    gates.on_event("ADDED", pod("worker", 0))
    (_, first), (_, second) = kube.patches
    assert len(first) == 4 and second == lift(pod("worker", 0), None)
    assert gates.lifted == 1


def test_a_job_without_a_placement_lets_its_pods_go_as_pinned(tq):
    kube = StubKube()
    PlacementGates(tq, StubStore([]), kube, threading.Event()).on_event(
        "MODIFIED", pod("worker", 0))  # fmt: skip
    assert kube.patches == [("tq-7-worker-0", lift(pod("worker", 0), None))]
