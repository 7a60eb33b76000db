"""Each node's free room from the node and pod cache: requests of bound pods, and replicas
admission counted there whose pods are not bound yet."""

import pytest

from wrapper.admission.resources import Res
from wrapper.admission.rooms import node_rooms, placement_json, shape_of

GI = 2**30


def node(name, used_gpu=0, used_pods=0, **extra):
    return {"name": name, "labels": {}, "taints": [], "cpu": 32_000, "memory": 256 * GI,
            "gpu": 8, "pods": 110,
            "used": {"cpu": 1000 * used_pods, "memory": GI * used_pods, "gpu": used_gpu,
                     "pods": used_pods}, **extra}  # fmt: skip


def test_without_pod_usage_the_rooms_are_not_known():
    bare = [{k: v for k, v in node("n1").items() if k != "used"}]
    assert node_rooms(bare, {}, {}) is None and node_rooms(None, {}, {}) is None


def test_bound_pods_and_unbound_replicas_both_take_room():
    nodes = [node("n1", used_gpu=5, used_pods=1), node("n2")]
    placements = {"7": {"each": [1000, GI, 3], "nodes": ["n1", "n2"]}}
    rooms = node_rooms(nodes, {}, placements)
    assert rooms["n1"].free == Res(32_000 - 2000, 256 * GI - 2 * GI, 0)
    assert rooms["n1"].free_slots == 108 and rooms["n2"].free.gpu == 5
    # Once job 7's pods are bound (and in the nodes' requests), its placement takes nothing more.
    bound = {"7": {"n1": 1, "n2": 1}}
    nodes = [node("n1", used_gpu=8, used_pods=2), node("n2", used_gpu=3, used_pods=1)]
    rooms = node_rooms(nodes, bound, placements)
    assert rooms["n1"].free.gpu == 0 and rooms["n2"].free.gpu == 5


def test_a_pod_the_scheduler_put_elsewhere_frees_the_place_counted_for_it():
    placements = {"7": {"each": [1000, GI, 3], "nodes": ["n1", "n2"]}}
    # The scheduler bound one replica on n3 (not counted there) and the other is pending.
    nodes = [node("n1"), node("n2"), node("n3", used_gpu=3, used_pods=1)]
    rooms = node_rooms(nodes, {"7": {"n3": 1}}, placements)
    # One replica is still unbound: it is counted on n1 only, not on n1 and n2.
    assert [rooms[n].free.gpu for n in ("n1", "n2", "n3")] == [5, 8, 5]


def test_the_pools_key_ignores_usage_and_a_placement_records_each_replica():
    assert shape_of(node("n1", used_gpu=3)) == shape_of(node("n1"))
    assert shape_of(node("n1")) != shape_of(node("n1", labels={"a": "b"}))
    assert placement_json(Res(2000, 2 * GI, 12), ("n1", "n2")) == (
        '{"each":[1000,1073741824,6],"nodes":["n1","n2"]}')  # fmt: skip


@pytest.mark.parametrize("seed", range(100))
def test_a_ledger_kept_from_changes_equals_one_built_from_the_whole_picture(seed):
    import random

    from wrapper.admission.rooms import NodeLedger, ledger_of

    rng = random.Random(seed)
    names = [f"n{i}" for i in range(6)]
    live = NodeLedger()
    nodes: dict[str, dict] = {}
    bound: dict[str, dict] = {}
    placements: dict[str, dict] = {}
    for _ in range(40):
        what = rng.random()
        if what < 0.3:
            name = rng.choice(names)
            entry = None if rng.random() < 0.2 else node(name, used_gpu=rng.randint(0, 8))
            nodes.pop(name, None) if entry is None else nodes.__setitem__(name, entry)
            live.set_node(name, entry)
        elif what < 0.6:
            job = str(rng.randint(1, 5))
            where = None if rng.random() < 0.3 else {
                "each": [1000, GI, rng.randint(0, 4)],
                "nodes": [rng.choice(names) for _ in range(rng.randint(1, 4))]}  # fmt: skip
            if where and rng.random() < 0.7:
                where["until"] = rng.choice([100.0, 200.0, 300.0])
            placements.pop(job, None) if where is None else placements.__setitem__(job, where)
            live.set_job(job, where, which="placement")
        else:
            job = str(rng.randint(1, 5))
            on = None if rng.random() < 0.3 else {rng.choice(names): rng.randint(1, 2)}
            bound.pop(job, None) if on is None else bound.__setitem__(job, on)
            live.set_job(job, bound=on, which="bound")
        whole = ledger_of(list(nodes.values()), bound, placements)
        assert live.rooms == whole.rooms and live.nodes == whole.nodes


def test_a_node_drains_when_the_last_deadline_of_its_jobs_passes():
    """drain_at: the latest deadline of the trainq jobs counted or bound there; unknown (inf)
    with a pod of no reserved trainq job or a job without a deadline; -inf when empty."""
    placements = {"7": {"each": [1000, GI, 2], "nodes": ["n1", "n1"], "until": 500.0},
                  "8": {"each": [1000, GI, 2], "nodes": ["n1", "n2"], "until": 900.0},
                  "9": {"each": [1000, GI, 1], "nodes": ["n3"]}}  # fmt: skip
    bound = {"7": {"n1": 2}, "8": {"n1": 1, "n2": 1}}
    nodes = [node("n1", used_gpu=6, used_pods=3), node("n2", used_gpu=2, used_pods=2),
             node("n3"), node("n4")]  # fmt: skip
    rooms = node_rooms(nodes, bound, placements)
    assert rooms["n1"].drain_at == 900.0  # jobs 7 and 8
    assert rooms["n2"].drain_at == float("inf")  # a second pod there is not a trainq job's
    assert rooms["n3"].drain_at == float("inf")  # job 9 has no deadline
    assert rooms["n4"].drain_at == float("-inf")  # nothing there
    assert placement_json(Res(2000, 2 * GI, 12), ("n1", "n2"), 1234.5678) == (
        '{"each":[1000,1073741824,6],"nodes":["n1","n2"],"until":1234.568}')  # fmt: skip
