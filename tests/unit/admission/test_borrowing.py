"""Borrowing against other teams' unused quota (wrapper.admission.claims): a team's unused quota
is held back from borrowers only as far as its own queued jobs could use it without borrowing,
so two teams whose jobs must both borrow never wait for each other on an empty node."""

import pytest

from wrapper import admission as A
from wrapper.admission.placement import Node
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GI = 2**30
NOW = 10_000.0
NODE = Res(32_000, 256 * GI, 8)  # one kwok node of the local stack
QUOTA, BORROW = Res(32_000, 128 * GI, 4), Res(0, 0, 4)  # 4 gpus each, 4 more to borrow


def job(job_id: int, gpus: int, submitted: float | None = None) -> Candidate:
    each = Res(1000, 4 * GI, gpus)
    return Candidate(job_id, each, 0, NOW - 100 + job_id if submitted is None else submitted,
                     1, each)  # fmt: skip


def team(name: str, *jobs: Candidate, max_jobs: int = 100) -> TeamState:
    return TeamState(name, 1.0, QUOTA, max_jobs, BORROW, Res(), 0, jobs)


def state(*teams: TeamState, nodes: bool, backoff=None) -> ClusterState:
    """One pool of one empty 8-gpu node, its free room known (nodes) or in sums only; every
    head within the head-of-line bound (none holds capacity)."""
    known = {"n0": Node("n0", NODE, 110, NODE, 110)} if nodes else None
    return ClusterState(tuple(teams), NODE, NOW, 3600.0, None, {}, known, backoff or {})


def admitted(st: ClusterState) -> list[int]:
    plan = A.explain(st)
    assert [a.job_id for a in A.decide(st, limit=5)] == [a.job_id for a in plan.admit]
    return [a.job_id for a in plan.admit]


@pytest.mark.parametrize("nodes", [False, True])
def test_two_teams_that_both_must_borrow_do_not_wait_for_each_other(nodes):
    """alpha queues 8 gpus, beta 6, on an empty 8-gpu node; both need to borrow. Neither
    team's unused quota is held for the other (neither could use it without borrowing), so
    the first in fair-share order (equal shares: the older job) borrows and runs."""
    alpha, beta = team("alpha", job(1, 8)), team("beta", job(2, 6))
    plan = A.explain(state(alpha, beta, nodes=nodes))
    assert [(a.job_id, a.borrowing) for a in plan.admit] == [(1, True)]
    assert plan.pending[2].reason in (A.WAITING_FOR_CAPACITY, A.WAITING_FOR_PLACEMENT)
    assert admitted(state(alpha, beta, nodes=nodes)) == [1]
    # beta's job older: beta borrows first, and alpha's 8 gpus wait for capacity.
    beta = team("beta", job(2, 6, submitted=NOW - 200))
    plan = A.explain(state(alpha, beta, nodes=nodes))
    assert [(a.job_id, a.borrowing) for a in plan.admit] == [(2, True)]
    assert plan.pending[1].reason in (A.WAITING_FOR_CAPACITY, A.WAITING_FOR_PLACEMENT)


@pytest.mark.parametrize("nodes", [False, True])
def test_unused_quota_is_still_held_for_a_job_that_fits_in_it(nodes):
    """beta's 2-gpu job fits in its unused quota: alpha may not borrow it away, and waits."""
    alpha, beta = team("alpha", job(1, 8)), team("beta", job(2, 2))
    plan = A.explain(state(alpha, beta, nodes=nodes))
    assert [a.job_id for a in plan.admit] == [2]
    assert plan.pending[1].reason == A.WAITING_FOR_FAIR_SHARE
    assert "no new borrowing while another team waits" in plan.pending[1].message
    assert "beta" not in plan.pending[1].message  # (a team never reads another's name)
    assert admitted(state(alpha, beta, nodes=nodes)) == [2]


def test_only_jobs_that_fit_in_the_quota_are_held_for():
    """beta holds back 2 gpus for its 2-gpu job, not its 4 unused ones for its 6-gpu job (which
    must borrow): alpha's 6 gpus fit beside them; then beta's 2-gpu job runs in its quota."""
    alpha, beta = team("alpha", job(1, 6)), team("beta", job(2, 6), job(3, 2))
    assert admitted(state(alpha, beta, nodes=False)) == [1, 3]
    # Two 2-gpu jobs claim all 4 gpus of beta's quota: alpha's 6 no longer fit beside, and
    # alpha waits; beta's own jobs then use the node (its 6-gpu job borrows: alpha claims
    # nothing, its only job must borrow too).
    beta = team("beta", job(2, 6), job(3, 2), job(4, 2))
    plan = A.explain(state(alpha, beta, nodes=False))
    assert plan.pending[1].reason == A.WAITING_FOR_FAIR_SHARE
    assert admitted(state(alpha, beta, nodes=False)) == [2, 3]


def test_jobs_that_cannot_start_now_hold_nothing():
    """beta's 2-gpu job is in backoff, or beta runs all the jobs it may, or the job can never
    fit beta's nodes: alpha borrows."""
    alpha = team("alpha", job(1, 8))
    st = state(alpha, team("beta", job(2, 2)), nodes=True, backoff={2: NOW + 30})
    assert admitted(st) == [1]
    assert admitted(state(alpha, team("beta", job(2, 2), max_jobs=0), nodes=True)) == [1]
    too_wide = Candidate(2, Res(4000, 8 * GI, 2), 0, NOW - 99, 2, Res(2000, 4 * GI, 1))
    wide = TeamState("beta", 1.0, QUOTA, 100, BORROW, Res(), 0, (too_wide,))
    one_slot = {"n0": Node("n0", NODE, 1, NODE, 1)}  # one pod slot: a 2-replica gang never fits
    st = ClusterState((alpha, wide), NODE, NOW, 3600.0, None, {}, one_slot)
    assert admitted(st) == [1]


def _reference_entitled(sim, team: TeamState, admitted_ids: set[int]) -> tuple[Res, bool]:
    """The rule as written (docs/admission.md), one job at a time: what the policy's grouped,
    cached claims (wrapper.admission.claims) must always equal."""
    total, found = Res(), False
    overlaps = sim.pools[sim.pool[team.name]].overlaps
    for o in sim.state.teams:
        pool = sim.pool[o.name]
        if o.name == team.name or pool not in overlaps:
            continue
        if sim.running.get(o.name, o.running) >= o.max_jobs:
            continue
        room, need = o.quota - sim.usage_of(o), Res()
        for j in o.queue:
            if j.id in admitted_ids or j.id in sim.backoff or not sim.ever_fits(pool, j):
                continue
            if j.demand.fits_in(room):
                need = need + j.demand
        claim = room.minimum(need).floor0()
        if claim != Res():
            total, found = total + claim, True
    return total, found


def test_claims_equal_the_rule_job_by_job_on_the_equivalence_snapshots(monkeypatch):
    from tests.unit.admission.test_equivalence import node_state, random_state, states
    from wrapper.admission import holds
    from wrapper.admission.fit import PassState

    admit, entitled = PassState.admit, PassState.entitled_to_others
    hold_head = holds.hold_head
    admitted_ids: dict[int, set[int]] = {}  # id(sim) -> its admitted jobs (and counted heads)
    checked = 0

    def recording_admit(sim, team, d, job=None, placed=()):
        admitted_ids.setdefault(id(sim), set()).add(job.id)
        return admit(sim, team, d, job, placed)

    def recording_hold(sim, team, job, short_in_sum):
        blocks = hold_head(sim, team, job, short_in_sum)
        if not blocks:  # counted in its team's usage, as an admitted job is
            admitted_ids.setdefault(id(sim), set()).add(job.id)
        return blocks

    def compared(sim, team):
        nonlocal checked
        got = entitled(sim, team)
        assert got == _reference_entitled(sim, team, admitted_ids.get(id(sim), set()))
        checked += 1
        return got

    monkeypatch.setattr(PassState, "admit", recording_admit)
    monkeypatch.setattr(holds, "hold_head", recording_hold)
    monkeypatch.setattr(PassState, "entitled_to_others", compared)
    more = [random_state(s) for s in range(1000, 2000)] + [node_state(s) for s in range(1000, 1300)]
    for st in [st for _, st in states()] + more:
        A.explain(st)
        admitted_ids.clear()
    assert checked > 500, checked
