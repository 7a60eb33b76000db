"""Which nodes count as capacity, and what admission keeps of each (queue_workers.kube.nodes)."""

from types import SimpleNamespace

from queue_workers.kube import nodes

GI = 2**30


def node(name="n1", ready="True", unschedulable=None, taints=None, labels=None, **alloc):
    spec = {}
    if unschedulable is not None:
        spec["unschedulable"] = unschedulable
    if taints is not None:
        spec["taints"] = taints
    conditions = [{"type": "MemoryPressure", "status": "False"}]
    if ready is not None:
        conditions.append({"type": "Ready", "status": ready})
    allocatable = {"cpu": "8", "memory": "32Gi", **alloc}
    return {
        "metadata": {"name": name, **({"labels": labels} if labels is not None else {})},
        "spec": spec,
        "status": {"conditions": conditions, "allocatable": allocatable},
    }


def test_only_ready_nodes_count():
    assert nodes.schedulable(node(ready="True"))
    assert not nodes.schedulable(node(ready="False"))
    assert not nodes.schedulable(node(ready="Unknown"))
    assert not nodes.schedulable(node(ready=None))  # no Ready condition reported yet
    assert not nodes.schedulable({"metadata": {"name": "bare"}})


def test_a_cordoned_node_does_not_count_even_when_ready():
    assert not nodes.schedulable(node(unschedulable=True))
    assert nodes.schedulable(node(unschedulable=False))


def test_taints_do_not_decide_schedulability():
    # Tolerations are matched per team by admission, not here.
    tainted = node(taints=[{"key": "gpu", "value": "a100", "effect": "NoSchedule"}])
    assert nodes.schedulable(tainted)


def test_compact_parses_allocatable_into_millicores_bytes_gpus_and_pod_slots():
    n = node(cpu="3500m", memory="16Gi", pods="110", **{"nvidia.com/gpu": "4"})
    assert nodes.compact(n) == {
        "name": "n1", "labels": {}, "taints": [], "cpu": 3500, "memory": 16 * GI, "gpu": 4,
        "pods": 110,
    }  # fmt: skip
    assert nodes.compact(node(pods="1k"))["pods"] == 1000


def test_compact_counts_missing_gpus_and_allocatable_as_zero():
    no_gpus = nodes.compact(node(cpu="2", memory="1024Ki"))
    assert (no_gpus["cpu"], no_gpus["memory"], no_gpus["gpu"]) == (2000, 1024 * 1024, 0)
    empty = nodes.compact({"metadata": {"name": "n0"}, "status": {}})
    assert (empty["cpu"], empty["memory"], empty["gpu"], empty["pods"]) == (0, 0, 0, 0)
    assert nodes.compact(node(**{"nvidia.com/gpu": ""}))["gpu"] == 0


def test_compact_keeps_labels_and_the_set_fields_of_each_taint():
    taints = [
        {"key": "pool", "value": "local", "effect": "NoSchedule", "timeAdded": "2026-01-01"},
        {"key": "maintenance", "effect": "NoExecute", "value": None},
    ]
    compacted = nodes.compact(node(labels={"pool": "local"}, taints=taints))
    assert compacted["labels"] == {"pool": "local"}
    assert compacted["taints"] == [
        {"key": "pool", "value": "local", "effect": "NoSchedule"},
        {"key": "maintenance", "effect": "NoExecute"},
    ]


def test_usable_keeps_the_schedulable_nodes_compacted_in_order():
    listed = [node("a"), node("b", ready="False"), node("c", unschedulable=True), node("d")]
    assert [n["name"] for n in nodes.usable(listed)] == ["a", "d"]
    assert nodes.usable(listed)[0] == nodes.compact(listed[0])
    assert nodes.usable([]) == []


def test_with_usage_gives_every_node_its_own_used_figures():
    compacted = [nodes.compact(node("a")), nodes.compact(node("b"))]
    used = {"a": {"cpu": 1500, "memory": GI, "gpu": 1, "pods": 2}, "gone": {"cpu": 1}}
    out = nodes.with_usage(compacted, used)
    assert out[0] == {**compacted[0], "used": used["a"]}
    assert out[1]["used"] == {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}
    out[0]["used"]["cpu"] = 0  # a copy: the sums it came from are not touched
    assert used["a"]["cpu"] == 1500


def test_refresh_caches_one_list_of_the_usable_nodes_with_their_pods():
    def pod(name, node_name, gpu, **labels):
        return {
            "metadata": {"namespace": "ns", "name": name, "labels": labels},
            "spec": {"nodeName": node_name, "containers": [
                {"resources": {"requests": {"cpu": "1", "nvidia.com/gpu": str(gpu)}}}]},
            "status": {"phase": "Running"},
        }  # fmt: skip

    ours = {"app.kubernetes.io/managed-by": "trainq", "trainq.dev/instance": "tq",
            "trainq.dev/job-id": "7"}  # fmt: skip

    class FakeKube:
        def list_nodes(self):
            return [node("a", **{"nvidia.com/gpu": "8"}), node("b", ready="False")], "42"

        def list_pods(self):
            return [pod("p1", "a", 2, **ours), pod("p2", "a", 1), pod("p3", "b", 4, **ours)], "43"

    class FakeAdmissions:
        config = SimpleNamespace(instance="tq")
        written = None

        def write_nodes(self, compacted, bound):
            self.written = compacted, bound

    admissions = FakeAdmissions()
    nodes.refresh(FakeKube(), admissions)
    written, bound = admissions.written
    assert [(n["name"], n["gpu"]) for n in written] == [("a", 8)]
    assert written[0]["used"] == {"cpu": 2000, "memory": 0, "gpu": 3, "pods": 2}
    # Pods on a node that does not count still say where the job runs.
    assert bound == {"7": {"a": 1, "b": 1}}
