"""Pins the admission policy's results on many random snapshots (in sums, and with the nodes'
free room known), so that it can be made faster without changing what it decides: a worker's
decision (`decide`, limit=k) admits what the full plan (`explain`) admits first, and every
full plan matches a recorded digest
(tests/unit/admission/data/admission_golden.json).

Regenerate the digests only when the policy is meant to change:
    .venv/bin/python -m tests.unit.admission.test_equivalence
"""

import dataclasses
import hashlib
import json
import random
from dataclasses import astuple
from pathlib import Path

import pytest

from benchmarks import decision
from wrapper.admission import Admission, Plan, decide, explain
from wrapper.admission.placement import Node
from wrapper.admission.pools import Pool
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GOLDEN = Path(__file__).parent / "data" / "admission_golden.json"
SEEDS = range(300)
NODE_SEEDS = range(150)
GI = 2**30


def random_state(seed: int) -> ClusterState:
    rng = random.Random(seed)
    now = 10_000.0
    head_wait = rng.choice([30.0, 60.0, 600.0, 3600.0])
    # A few demand shapes, so that queues hold runs of identical demands; some ask for no gpu.
    shapes = [
        Res(rng.choice([0, 500, 1000, 4000]) * g or 1000, rng.choice([1, 4, 16]) * GI * g, gpu)
        for g, gpu in ((1, 0), (1, 1), (2, 2), (4, 4), (8, 8), (1, 0))
    ]
    shapes = rng.sample(shapes, rng.randint(1, len(shapes)))
    pool_ids = ["", "a", "b", "c"]
    pools: dict[str, Pool] = {}
    if rng.random() < 0.3:
        caps = {p: Res(rng.randint(0, 96) * 1000, rng.randint(0, 384) * GI, rng.randint(0, 24))
                for p in ("a", "b", "c")}  # fmt: skip
        overlaps = {"a": {"a", "b"}, "b": {"a", "b"}, "c": {"c"}}
        if rng.random() < 0.5:
            overlaps = {p: {p} for p in caps}
        pools = {p: Pool(caps[p], frozenset(overlaps[p])) for p in caps}
    teams, next_id = [], 1
    for t in range(rng.randint(1, 8)):
        queue = []
        for _ in range(rng.choice([0, 1, 3, 10, 25])):
            d = rng.choice(shapes)
            for _ in range(rng.choice([1, 1, 1, 2, 5])):  # runs of identical demands
                age = rng.choice([1.0, 1.0, 20.0, 59.0, 60.0, 100.0, 1000.0]) - next_id / 1e3
                if rng.random() < 0.1:
                    age = head_wait  # exactly at the head-of-line bound
                queue.append(Candidate(next_id, d, rng.randint(0, 2), now - age))
                next_id += 1
        queue.sort(key=lambda j: (-j.priority, j.submitted))
        quota = Res(rng.randint(0, 64) * 1000, rng.randint(0, 256) * GI, rng.randint(0, 16))
        borrow = None
        if rng.random() < 0.5:
            borrow = Res(rng.randint(0, 16) * 1000, rng.randint(0, 64) * GI, rng.randint(0, 8))
        usage = Res(rng.randint(0, 8) * 1000, rng.randint(0, 32) * GI, rng.randint(0, 4))
        if rng.random() < 0.2:  # over its quota already
            usage = usage.scale(4)
        teams.append(
            TeamState(
                name=f"t{t}", weight=rng.choice([0.5, 1.0, 1.0, 2.0, 3.0]), quota=quota,
                max_jobs=rng.choice([0, 1, 3, 5, 100, 100]), borrowing_limit=borrow, usage=usage,
                running=rng.randint(0, 3), queue=tuple(queue), pool=rng.choice(pool_ids),
                last_admitted=rng.choice([0.0, 0.0, 5.0, 9_000.0]),
            )
        )  # fmt: skip
    capacity = None
    if rng.random() > 0.1:
        capacity = Res(rng.randint(0, 160) * 1000, rng.randint(0, 640) * GI, rng.randint(0, 48))
    return ClusterState(tuple(teams), capacity, now, head_wait, 0.5, pools)


def node_state(seed: int) -> ClusterState:
    """A snapshot whose nodes are known: 2-8 nodes of 8 gpus (some busy), jobs of 1-4 identical
    replicas of 1/2/4/8 gpus, and sometimes two pools of nodes."""
    rng = random.Random(10_000 + seed)
    base = random_state(seed)
    names = [f"n{i}" for i in range(rng.randint(2, 8))]
    nodes = {}
    for name in names:
        alloc = Res(32_000, 256 * GI, 8)
        used = Res(rng.randint(0, 32) * 1000, rng.randint(0, 256) * GI, rng.choice([0, 0, 3, 5, 8]))
        free = (alloc - used).floor0()
        nodes[name] = Node(name, alloc, 110, free, rng.choice([110, 110, 2, 0]))
    total = Res(32_000 * len(names), 256 * GI * len(names), 8 * len(names))
    pools: dict[str, Pool] = {}
    if rng.random() < 0.4 and len(names) > 2:
        half = len(names) // 2
        cap = Res(32_000 * half, 256 * GI * half, 8 * half)
        rest = Res(total.cpu - cap.cpu, total.memory - cap.memory, total.gpu - cap.gpu)
        pools = {"a": Pool(cap, frozenset({"a"}), tuple(names[:half])),
                 "b": Pool(rest, frozenset({"b"}), tuple(names[half:]))}  # fmt: skip
    teams = []
    for team in base.teams:
        queue = []
        for job in team.queue:
            replicas, gpus = rng.choice([1, 1, 2, 4]), rng.choice([0, 1, 2, 4, 8])
            each = Res(rng.choice([1, 4, 8]) * 1000, rng.choice([4, 32]) * GI, gpus)
            queue.append(Candidate(job.id, each.scale(replicas), job.priority, job.submitted,
                                   replicas, each))  # fmt: skip
        pool = rng.choice(list(pools)) if pools else ""
        quota = team.quota.scale(rng.choice([1, 4]))
        teams.append(dataclasses.replace(team, queue=tuple(queue), pool=pool, quota=quota))
    return ClusterState(tuple(teams), total, base.now, base.head_wait_seconds, 0.5, pools, nodes)


def states() -> list[tuple[str, ClusterState]]:
    out = [(f"seed-{s}", random_state(s)) for s in SEEDS]
    out += [(f"nodes-{s}", node_state(s)) for s in NODE_SEEDS]
    # The benchmark's shape (heads mostly blocked, long identical-demand stretches), smaller.
    out += [(f"bench-{n}", decision.state(n, 600)) for n in (1, 3, 10, 40)]
    return out


def _admission(a: Admission) -> list:
    out = [a.team, a.job_id, astuple(a.demand), astuple(a.team_limit), a.max_jobs,
           a.borrowing, astuple(a.capacity), a.pool]  # fmt: skip
    return [*out, list(a.placement)] if a.placement else out


def digest(p: Plan) -> str:
    doc = {
        "admit": [_admission(a) for a in p.admit],
        "pending": sorted([i, x.reason, x.message] for i, x in p.pending.items()),
        "team_order": p.team_order,
        "global_order": p.global_order,
        "shares": p.shares,
        "capacity": None if p.capacity is None else astuple(p.capacity),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def golden() -> dict[str, str]:
    return {name: digest(explain(st)) for name, st in states()}


@pytest.fixture(scope="module")
def cases():
    return states()


def test_full_plans_match_the_recorded_digests(cases):
    recorded = json.loads(GOLDEN.read_text())
    assert set(recorded) == {name for name, _ in cases}
    wrong = [name for name, st in cases if digest(explain(st)) != recorded[name]]
    assert not wrong, f"plans differ from the recorded ones: {wrong[:20]}"


def test_a_short_plan_admits_what_the_full_plan_admits_first(cases):
    for name, st in cases:
        full = explain(st).admit
        for k in (1, 2, 3):
            assert decide(st, limit=k) == full[:k], (name, k)


def test_the_cases_exercise_the_interesting_paths(cases):
    """Guards the generator: admissions, waiting jobs of every kind, unknown capacity."""
    reasons, admitted, unknown = set(), 0, 0
    for _, st in cases:
        p = explain(st)
        admitted += len(p.admit)
        reasons |= {x.reason for x in p.pending.values()}
        unknown += st.capacity is None
    assert admitted > 100 and unknown > 5
    assert {"WaitingForQuota", "WaitingForCapacity", "WaitingForHigherPriority",
            "WaitingForFairShare", "BorrowingLimitReached", "WaitingForPlacement",
            "ExceedsPoolCapacity"} <= reasons  # fmt: skip


def test_placements_never_count_a_node_twice(cases):
    """On node-level snapshots: every admitted job has one node per replica, among the nodes
    its team may use, and what one plan counts on a node never exceeds the node's room."""
    checked = 0
    for name, st in cases:
        if st.nodes is None:
            continue
        p = explain(st)
        team_of = {t.name: t for t in st.teams}
        jobs = {j.id: j for t in st.teams for j in t.queue}
        rooms = {n: node.room() for n, node in st.nodes.items()}
        for a in p.admit:
            job, pool = jobs[a.job_id], team_of[a.team].pool
            assert len(a.placement) == job.replicas, (name, a)
            allowed = st.pools[pool].nodes if st.pools else tuple(st.nodes)
            assert set(a.placement) <= set(allowed), (name, a)
            for node in a.placement:
                each = job.replica()
                room = rooms[node]
                room[0], room[1], room[2], room[3] = (room[0] - each.cpu, room[1] - each.memory,
                                                      room[2] - each.gpu, room[3] - 1)  # fmt: skip
                assert min(room) >= 0, (name, node, room)
                checked += 1
        # A job waiting for placement fits in sum: its replicas just do not fit on nodes.
        for pending in p.pending.values():
            if pending.reason == "WaitingForPlacement":
                assert "at once" in pending.message
    assert checked > 100


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(golden(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
