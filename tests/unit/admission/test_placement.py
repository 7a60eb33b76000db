"""Placement-true admission, pure: a job is admitted only when every replica can be counted on
a node at once; two admissions never count the same free gpu; a job that can never fit holds
nothing and blocks no one."""

from dataclasses import replace

import pytest

from wrapper import admission as A
from wrapper.admission.index import NodeIndex, PassRooms
from wrapper.admission.placement import Node, fits_on
from wrapper.admission.pools import Pool
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GI = 2**30
ALLOC = Res(32_000, 256 * GI, 8)  # one kwok node of the local stack
NOW = 10_000.0
NOTHING, QUOTA = Res(), Res(256_000, 2048 * GI, 64)


def node(name: str, free_gpus: int, free_slots: int = 110) -> Node:
    used = Res(0, 0, 8 - free_gpus)
    return Node(name, ALLOC, 110, ALLOC - used, free_slots)


def gang(job_id: int, replicas: int, gpus: int, submitted: float = NOW - 1) -> Candidate:
    each = Res(1000, 4 * GI, gpus)
    return Candidate(job_id, each.scale(replicas), 0, submitted, replicas, each)


def team(name: str, jobs, usage=NOTHING, quota=QUOTA) -> TeamState:
    return TeamState(name, 1.0, quota, 100, None, usage, 0, tuple(jobs))


def state(*teams, nodes, head_wait=60.0, pools=None) -> ClusterState:
    nodes = {n.name: n for n in nodes}
    cap = Res(ALLOC.cpu * len(nodes), ALLOC.memory * len(nodes), ALLOC.gpu * len(nodes))
    return ClusterState(tuple(teams), cap, NOW, head_wait, None, pools or {}, nodes)


def test_fits_on_counts_whole_replicas_and_pod_slots():
    assert fits_on([32_000, 256 * GI, 8, 110], Res(1000, GI, 3)) == 2
    assert fits_on([32_000, 256 * GI, 8, 1], Res(1000, GI, 1)) == 1  # one slot left
    assert fits_on([500, 256 * GI, 8, 110], Res(1000, GI, 0)) == 0  # cpu


def rooms_of(rooms: dict[str, list[int]]) -> PassRooms:
    nodes = {n: Node(n, ALLOC, 110, Res(*r[:3]), r[3]) for n, r in rooms.items()}
    return PassRooms(NodeIndex(nodes, rooms, {}))


def test_place_is_exact_for_identical_replicas_and_fills_nodes_evenly_first():
    rooms = {"a": [32_000, 256 * GI, 3, 110], "b": [32_000, 256 * GI, 3, 110],
             "c": [32_000, 256 * GI, 8, 110]}  # fmt: skip
    each = Res(1000, GI, 3)
    view = rooms_of(rooms)
    assert view.place(each, 2, "") == ["a", "b"]  # 3 of 3 gpus used on each: c stays whole
    assert view.place(each, 4, "") == ["a", "b", "c", "c"]
    assert view.place(each, 5, "") is None  # 1 + 1 + 2 = 4 fit at most
    assert rooms["c"] == [32_000, 256 * GI, 8, 110]  # place does not take
    view.take(each, ["c"])
    assert view["c"][2] == 5 and rooms["c"][2] == 8  # a pass's take is its own
    assert view.place(each, 4, "") is None and view.place(each, 3, "") == ["a", "b", "c"]


def test_a_job_without_gpus_goes_to_the_nodes_with_fewest_free_gpus():
    rooms = {"a": [32_000, 256 * GI, 8, 110], "b": [32_000, 256 * GI, 0, 110],
             "c": [500, 256 * GI, 0, 110]}  # fmt: skip
    view = rooms_of(rooms)
    assert view.place(Res(1000, GI, 0), 1, "") == ["b"]  # (c lacks cpu; a stays whole)
    assert view.place(Res(1000, GI, 0), 33, "") == ["b"] * 32 + ["a"]


def test_the_issue_scenario_waits_for_placement_instead_of_half_placing():
    """alpha runs two 5-gpu jobs on two of three 8-gpu nodes (3 + 3 + 8 free = 14); beta's
    Master + Worker of 6 gpus each fits in sum (12) but not on nodes: only one node has 6."""
    nodes = [node("n1", 3), node("n2", 3), node("n3", 8)]
    beta = team("beta", [gang(1, 2, 6)])
    alpha = team("alpha", [], usage=Res(2000, 8 * GI, 10))
    p = A.explain(state(alpha, beta, nodes=nodes))
    assert p.admit == []
    pending = p.pending[1]
    assert pending.reason == A.WAITING_FOR_PLACEMENT
    assert "2 replicas of 6 gpu" in pending.message and "1 fit" in pending.message
    assert "n3 with 8 gpu" in pending.message  # the node with the most room
    assert A.decide(state(alpha, beta, nodes=nodes), limit=2) == []


def test_replicas_that_fit_are_counted_on_nodes_and_never_twice():
    nodes = [node("n1", 8), node("n2", 3), node("n3", 3)]
    t = team("t", [gang(1, 1, 8), gang(2, 1, 8), gang(3, 2, 3)])
    p = A.explain(state(t, nodes=nodes))
    placements = {a.job_id: a.placement for a in p.admit}
    # job 1 takes n1 whole; job 2 (8 gpus) has no node left; job 3 fits n2 + n3.
    assert placements == {1: ("n1",), 3: ("n2", "n3")}
    assert p.pending[2].reason == A.WAITING_FOR_PLACEMENT
    assert A.decide(state(t, nodes=nodes), limit=2) == p.admit[:2]


def test_a_replica_larger_than_every_node_exceeds_the_pool_and_blocks_no_one():
    nodes = [node("n1", 8), node("n2", 8), node("n3", 8)]  # 24 gpus in sum, 8 per node
    old = NOW - 3600  # far past the head-of-line bound: it would hold capacity if it could
    t = team("t", [gang(1, 1, 10, submitted=old), gang(2, 1, 4)])
    other = team("other", [gang(3, 1, 8)])
    p = A.explain(state(t, other, nodes=nodes))
    assert p.pending[1].reason == A.EXCEEDS_POOL_CAPACITY
    assert "could hold 0 of them even if empty" in p.pending[1].message
    assert sorted(a.job_id for a in p.admit) == [2, 3]  # nothing held, nobody blocked


def test_capacity_that_shrinks_and_returns():
    """A queued job that no longer fits what the cluster has (a node left) holds nothing; it
    proceeds when the node is back."""
    job = gang(1, 3, 8, submitted=NOW - 3600)
    later = gang(2, 1, 1)
    shrunk = state(team("t", [job, later]), nodes=[node("n1", 8), node("n2", 8)])
    p = A.explain(shrunk)
    assert (
        p.pending[1].reason == A.EXCEEDS_POOL_CAPACITY
        and "16 gpu in all" not in p.pending[1].message
    )
    assert [a.job_id for a in p.admit] == [2]
    back = state(team("t", [job, later]), nodes=[node("n1", 8), node("n2", 8), node("n3", 8)])
    assert [a.job_id for a in A.explain(back).admit] == [1]  # (then 24 of 24 gpus are taken)


def test_in_sums_too_a_job_larger_than_the_pool_holds_nothing():
    """Without node-level state: a head past the bound that can never fit the pool's
    capacity no longer holds the pool (it used to drive free capacity negative)."""
    big = Candidate(1, Res(1000, GI, 40), 0, NOW - 3600)
    small = Candidate(2, Res(1000, GI, 1), 0, NOW - 1)
    t = TeamState("t", 1.0, Res(64_000, 512 * GI, 64), 100, None, Res(), 0, (big, small))
    other = TeamState("o", 1.0, Res(64_000, 512 * GI, 64), 100, None, Res(), 0,
                      (Candidate(3, Res(1000, GI, 2), 0, NOW - 1),))  # fmt: skip
    p = A.explain(ClusterState((t, other), Res(64_000, 512 * GI, 24), NOW, 60.0))
    assert p.pending[1].reason == A.EXCEEDS_POOL_CAPACITY
    assert "needs 40 gpu" in p.pending[1].message and "24 in all" in p.pending[1].message
    assert sorted(a.job_id for a in p.admit) == [2, 3]


@pytest.mark.parametrize("pool", ["a", "b"])
def test_a_team_is_placed_only_on_its_pools_nodes(pool):
    nodes = [node("n1", 8), node("n2", 8)]
    pools = {"a": Pool(Res(32_000, 256 * GI, 8), frozenset({"a"}), ("n1",)),
             "b": Pool(Res(32_000, 256 * GI, 8), frozenset({"b"}), ("n2",))}  # fmt: skip
    t = TeamState("t", 1.0, Res(256_000, 2048 * GI, 64), 100, None, Res(), 0,
                  (gang(1, 1, 8),), pool=pool)  # fmt: skip
    p = A.explain(state(t, nodes=nodes, pools=pools))
    assert [a.placement for a in p.admit] == [("n1",) if pool == "a" else ("n2",)]


def test_never_fits_names_a_replica_larger_than_every_node():
    each = Res(10_000, 8 * GI, 10)
    problems = A.never_fits(each.scale(2), None, Res(96_000, 768 * GI, 24),
                            "team alpha's nodes have", each, ALLOC)  # fmt: skip
    assert problems == [("gpu", "each replica needs 10 gpu, 2 more than the largest node of "
                                "team alpha's pool offers (8)")]  # fmt: skip
    assert A.never_fits(Res(1000, GI, 8), None, ALLOC, each=Res(1000, GI, 8), largest=ALLOC) == []


@pytest.mark.parametrize("seed", range(200))
def test_the_index_answers_exactly_and_stays_current_as_rooms_move(seed):
    """place() finds a placement exactly when the replicas fit in sum over the nodes (identical
    replicas), only on nodes with room; and after rooms move (`moved`), as a fresh index."""
    import random

    rng = random.Random(seed)
    rooms = {f"n{i}": [rng.choice([0, 500, 4000, 32_000]), rng.choice([GI, 64 * GI]),
                       rng.randint(0, 8), rng.choice([0, 1, 110])]
             for i in range(rng.randint(1, 12))}  # fmt: skip
    index = PassRooms(NodeIndex({n: node(n, 8) for n in rooms}, rooms, {})).index
    for _ in range(5):
        view = PassRooms(index)
        for _ in range(3):
            each = Res(rng.choice([0, 500, 1000]), rng.choice([0, GI]), rng.choice([0, 1, 2, 3, 8]))
            replicas = rng.randint(1, 6)
            found = view.place(each, replicas, "")
            fit = sum(fits_on(view[n], each) for n in rooms)
            assert (found is not None) == (fit >= replicas), (each, replicas, fit)
            if found:
                assert len(found) == replicas
                view.take(each, found)
                assert all(min(view[n]) >= 0 or min(rooms[n]) < 0 for n in found)
        name = rng.choice(sorted(rooms))  # a room moves, as a snapshot's owner moves it
        old = rooms[name][2]
        rooms[name] = [rng.randint(0, 32_000), 64 * GI, rng.randint(0, 8), 110]
        index.moved(name, old)
        fresh = NodeIndex({n: node(n, 8) for n in rooms}, rooms, {})
        assert {g: set(b) for g, b in index.buckets[""].items() if b} == \
            {g: set(b) for g, b in fresh.buckets[""].items() if b}  # fmt: skip


def test_the_eta_counts_a_gangs_replicas_when_it_waits_for_placement_and_none_when_it_never_fits():
    plan = A.Plan()
    assert plan.eta(4, 0.5) == 10.0  # 5 admissions ahead and its own, at 0.5/s
    assert plan.eta(4, 0.5, A.WAITING_FOR_PLACEMENT, replicas=3) == 16.0  # + one per replica
    assert plan.eta(4, 0.5, A.EXCEEDS_POOL_CAPACITY, replicas=3) is None  # capacity must return
    assert plan.eta(4, None) is None


def test_an_overdue_gang_holds_whole_nodes_while_others_backfill_the_rest():
    """beta's 2 x 6-gpu gang has waited past the bound and fits in sum, not on nodes (3 + 3 +
    4 + 8 + 4 free): it holds the two nodes with the most room (n4, n3), so alpha's 4-gpu job
    goes to n5, not to n3 (where it would go otherwise); once n3 drains, the gang starts."""
    nodes = [node("n1", 3), node("n2", 3), node("n3", 4), node("n4", 8), node("n5", 4)]
    beta = team("beta", [gang(1, 2, 6, submitted=NOW - 1000)])
    alpha = team("alpha", [gang(2, 1, 4, submitted=NOW - 1)])
    p = A.explain(state(alpha, beta, nodes=nodes, head_wait=60.0))
    assert p.pending[1].reason == A.WAITING_FOR_PLACEMENT
    assert "holds the next free capacity" in p.pending[1].message
    assert {a.job_id: a.placement for a in p.admit} == {2: ("n5",)}
    young = team("beta", [gang(1, 2, 6, submitted=NOW - 1)])  # within the bound: no hold
    p = A.explain(state(alpha, young, nodes=nodes, head_wait=60.0))
    assert {a.job_id: a.placement for a in p.admit} == {2: ("n3",)}
    drained = [node("n1", 3), node("n2", 3), node("n3", 8), node("n4", 8), node("n5", 4)]
    p = A.explain(state(alpha, beta, nodes=drained, head_wait=60.0))
    assert {a.job_id: a.placement for a in p.admit}[1] == ("n3", "n4")


def test_a_job_that_ends_before_the_held_nodes_drain_backfills_them():
    """beta's overdue gang holds n3 and n4 (n1 and n2 are full); their jobs end by NOW + 600 at
    the latest. A job of alpha's bound to end before (max_runtime 300 s) may use their room
    meanwhile; one that may run longer (900 s) may not, and nothing backfills held nodes whose
    end is unknown (a pod of no trainq job there, say)."""

    def nodes(held_drain):
        return [node("n1", 0), node("n2", 0), replace(node("n3", 4), drain_at=held_drain),
                replace(node("n4", 4), drain_at=NOW + 300)]  # fmt: skip

    beta = team("beta", [gang(1, 2, 8, submitted=NOW - 1000)])
    for max_runtime, held_drain, placed in ((300.0, NOW + 600, True), (900.0, NOW + 600, False),
                                            (300.0, float("inf"), False)):  # fmt: skip
        job = replace(gang(2, 1, 4, submitted=NOW - 1), max_runtime=max_runtime)
        snap = state(team("alpha", [job]), beta, nodes=nodes(held_drain), head_wait=60.0)
        p = A.explain(snap)
        assert p.pending[1].reason == A.WAITING_FOR_PLACEMENT
        got = {a.job_id: a.placement for a in p.admit}.get(2)
        assert (got is not None) == placed, (max_runtime, held_drain, got)
        assert got is None or got[0] in ("n3", "n4")  # on a held node: n1 and n2 are full
        # a worker's decision agrees with the full plan
        assert [a.placement for a in A.decide(snap, 5)] == ([got] if placed else [])


def test_an_overdue_gang_holds_the_nodes_due_to_drain_first():
    """n1 and n2 drain in 100 s, n3 and n4 (more free now) in 900 s: the gang holds n1 and n2,
    so alpha's 6-gpu job still starts on n3 or n4 (holding those would have left it waiting)."""
    soon, late = NOW + 100, NOW + 900
    nodes = [replace(node("n1", 4), drain_at=soon), replace(node("n2", 4), drain_at=soon),
             replace(node("n3", 6), drain_at=late),
             replace(node("n4", 6), drain_at=late)]  # fmt: skip
    beta = team("beta", [gang(1, 2, 8, submitted=NOW - 1000)])
    alpha = team("alpha", [gang(2, 1, 6, submitted=NOW - 1)])
    p = A.explain(state(alpha, beta, nodes=nodes, head_wait=60.0))
    assert p.pending[1].reason == A.WAITING_FOR_PLACEMENT
    assert {a.job_id: a.placement for a in p.admit}.get(2) in (("n3",), ("n4",))


def test_an_overdue_gang_larger_than_the_free_sum_holds_nodes_not_the_whole_pool():
    """beta's 2 x 8-gpu gang has waited past the bound and needs more than the 8 gpus free in
    all: it holds room on the two nodes due to drain first (n1, n2), not 16 gpus of the pool,
    so alpha's 2-gpu job starts on n3 or n4 meanwhile (before: it waited behind the sum)."""
    soon, late = NOW + 100, NOW + 900
    nodes = [replace(node("n1", 2), drain_at=soon), replace(node("n2", 2), drain_at=soon),
             replace(node("n3", 2), drain_at=late),
             replace(node("n4", 2), drain_at=late)]  # fmt: skip
    beta = team("beta", [gang(1, 2, 8, submitted=NOW - 1000)])
    # (alpha's running jobs use the 24 gpus: beta, with the lower share, goes first)
    alpha = team("alpha", [gang(2, 1, 2), gang(3, 1, 4)], usage=Res(4000, 16 * GI, 24))
    snap = state(alpha, beta, nodes=nodes, head_wait=60.0)
    p = A.explain(snap)
    assert p.pending[1].reason == A.WAITING_FOR_CAPACITY
    assert "holds the next free capacity" in p.pending[1].message
    got = {a.job_id: a.placement for a in p.admit}
    assert got.get(2) in (("n3",), ("n4",)) and 3 not in got  # 4 gpus fit on no free node
    assert [a.placement for a in A.decide(snap, 5)] == [got[2]]  # the worker's decision agrees


def test_a_held_node_takes_no_job_that_may_outlast_its_drain():
    """beta's overdue 8-gpu job holds n1 (4 gpus free): alpha's jobs go to n2, even the one
    without gpus that n1's spare cpu could take (the scheduler does not know what admission
    set aside there, and could place such a job's pods in the gang's room)."""
    beta = team("beta", [gang(1, 1, 8, submitted=NOW - 1000)])
    cpu_only = Candidate(2, Res(4000, 4 * GI, 0), 0, NOW - 1, 1, Res(4000, 4 * GI, 0))
    alpha = team("alpha", [cpu_only, gang(3, 1, 1)], usage=Res(1000, 4 * GI, 12))
    nodes = [replace(node("n1", 4), drain_at=NOW + 100), replace(node("n2", 0), drain_at=NOW + 900)]
    p = A.explain(state(alpha, beta, nodes=nodes, head_wait=60.0))
    assert {a.job_id: a.placement for a in p.admit} == {2: ("n2",)}
    assert p.pending[1].reason == A.WAITING_FOR_CAPACITY
    assert p.pending[3].reason == A.WAITING_FOR_PLACEMENT


def test_a_pool_capped_below_its_nodes_still_holds_its_sum():
    """With the pool's capacity capped below its nodes' allocatable (capacity_cap), the sum may
    refuse what the nodes allow: the overdue head holds its demand in sum too, so alpha's
    2-gpu job waits rather than take the sum the gang waits for."""
    nodes = [node("n1", 2), node("n2", 2), node("n3", 2), node("n4", 2)]
    beta = team("beta", [gang(1, 2, 8, submitted=NOW - 1000)])
    alpha = team("alpha", [gang(2, 1, 2)], usage=Res(4000, 16 * GI, 24))
    snap = state(alpha, beta, nodes=nodes, head_wait=60.0)
    capped = replace(snap, capacity=Res(snap.capacity.cpu, snap.capacity.memory, 30))
    assert {a.job_id for a in A.explain(snap).admit} == {2}
    p = A.explain(capped)
    assert not p.admit and p.pending[2].reason == A.WAITING_FOR_CAPACITY


def test_an_overdue_gang_holding_nodes_lets_its_own_teams_later_jobs_pass_elsewhere():
    """beta's overdue 2 x 8-gpu gang holds n1 and n2 (due to drain first); beta's later 4-gpu
    job cannot delay it on n3, so it starts there (before: it waited behind its head), but only
    within beta's quota counted with the gang (16 + 4 of 24: yes; of 18: no). In a pool whose
    sum may refuse what the nodes allow (capped), the team still waits behind its head."""
    soon, late = NOW + 100, NOW + 900
    nodes = [replace(node("n1", 2), drain_at=soon), replace(node("n2", 2), drain_at=soon),
             replace(node("n3", 6), drain_at=late),
             replace(node("n4", 2), drain_at=late)]  # fmt: skip
    alpha = team("alpha", [], usage=Res(4000, 16 * GI, 20))  # (its running jobs' gpus)
    jobs = [gang(1, 2, 8, submitted=NOW - 1000), gang(2, 1, 4, submitted=NOW - 999)]
    snap = state(alpha, team("beta", jobs, quota=Res(256_000, 2048 * GI, 24)), nodes=nodes)
    p = A.explain(snap)
    assert p.pending[1].reason == A.WAITING_FOR_CAPACITY
    assert {a.job_id: a.placement for a in p.admit} == {2: ("n3",)}
    assert [a.placement for a in A.decide(snap, 5)] == [("n3",)]
    tight = state(alpha, team("beta", jobs, quota=Res(256_000, 2048 * GI, 18)), nodes=nodes)
    p = A.explain(tight)
    assert not p.admit and p.pending[2].reason == A.WAITING_FOR_QUOTA
    capped = replace(snap, capacity=Res(snap.capacity.cpu, snap.capacity.memory, 30))
    p = A.explain(capped)
    assert not p.admit and p.pending[2].reason == A.WAITING_FOR_HIGHER_PRIORITY
