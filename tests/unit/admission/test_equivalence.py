"""Pins `wrapper.admission.plan`'s results on many random snapshots, so that it can be made
faster without changing what it decides: a worker's short plan (limit=k) admits what the full
plan admits first, and every full plan matches a recorded digest
(tests/unit/admission/data/admission_golden.json).

Regenerate the digests only when the policy is meant to change:
    .venv/bin/python -m tests.unit.admission.test_equivalence
"""

import hashlib
import json
import random
from dataclasses import astuple
from pathlib import Path

import pytest

from benchmarks import decision
from wrapper.admission import Admission, Plan, decide, explain
from wrapper.admission.pools import Pool
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GOLDEN = Path(__file__).parent / "data" / "admission_golden.json"
SEEDS = range(300)
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


def states() -> list[tuple[str, ClusterState]]:
    out = [(f"seed-{s}", random_state(s)) for s in SEEDS]
    # The benchmark's shape (heads mostly blocked, long identical-demand stretches), smaller.
    out += [(f"bench-{n}", decision.state(n, 600)) for n in (1, 3, 10, 40)]
    return out


def _admission(a: Admission) -> list:
    return [a.team, a.job_id, astuple(a.demand), astuple(a.team_limit), a.max_jobs,
            a.borrowing, astuple(a.capacity), a.pool]  # fmt: skip


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
            "WaitingForFairShare", "BorrowingLimitReached"} <= reasons  # fmt: skip


if __name__ == "__main__":
    GOLDEN.write_text(json.dumps(golden(), indent=0, sort_keys=True) + "\n")
    print(f"wrote {GOLDEN}")
