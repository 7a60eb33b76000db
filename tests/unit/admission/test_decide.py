"""A worker's decision (`decide(state, limit=k)`) stops as soon as nothing more can be admitted
(wrapper.admission.turns.none_can_fit). These pin that the stop never changes what it admits: a
head past the head-of-line bound still holds capacity, a smaller job behind a blocked one still
gets in, and capacity given back by a negative demand is seen."""

import dataclasses
import random

import pytest

from benchmarks import decision
from tests.unit.admission.test_equivalence import random_state
from wrapper.admission import decide, explain, policy
from wrapper.admission.pools import Pool
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GI = 2**30
NOW, BOUND = 1000.0, 60.0
OLD, YOUNG = 0.0, 999.0  # submitted: past the head-of-line bound, or not


def gpus(n: int) -> Res:
    return Res(1000 * max(n, 1), 4 * GI * max(n, 1), n)


def team(name, jobs, usage=0, max_jobs=100):
    queue = tuple(Candidate(i, d, 0, sub) for i, d, sub in jobs)
    return TeamState(name, 1.0, gpus(100), max_jobs, None, gpus(usage) if usage else Res(), 0,
                     queue)  # fmt: skip


def spy_on_check(monkeypatch) -> list[int]:
    """The ids of the jobs `plan` checks, in order."""
    checked, real = [], policy.check
    monkeypatch.setattr(policy, "check", lambda sim, t, job, h: checked.append(job.id) or
                        real(sim, t, job, h))  # fmt: skip
    return checked


def admitted_ids(st: ClusterState, k: int = 2) -> list[int]:
    """The job ids a worker's decision admits; always what the full plan admits first."""
    ids = [a.job_id for a in decide(st, limit=k)]
    assert ids == [a.job_id for a in explain(st).admit[:k]]
    return ids


def test_a_head_past_the_bound_still_holds_capacity_after_its_shape_did_not_fit():
    # free: 4 gpus. a's job fits; x's (young, 4 gpus) does not; b's head asks the same 4 gpus,
    # past the bound: it holds the 3 left, so c's small job must wait.
    def state(b_submitted):
        return ClusterState((team("a", [(1, gpus(1), YOUNG)]),
                             team("x", [(2, gpus(4), YOUNG)], usage=1),
                             team("b", [(3, gpus(4), b_submitted)], usage=2),
                             team("c", [(4, gpus(2), YOUNG)], usage=3)),
                            gpus(10), NOW, BOUND)  # fmt: skip

    assert admitted_ids(state(OLD)) == [1]
    assert admitted_ids(state(YOUNG)) == [1, 4]  # (b's young head holds nothing)


def test_a_smaller_job_behind_blocked_ones_still_gets_in():
    st = ClusterState((team("a", [(1, gpus(4), YOUNG), (2, gpus(4), YOUNG), (3, gpus(1), YOUNG)]),
                       team("b", [(4, gpus(4), YOUNG)], usage=1)),
                      gpus(3), NOW, BOUND)  # fmt: skip
    assert admitted_ids(st) == [3]


def test_a_team_that_may_start_no_more_jobs_does_not_keep_the_decision_going(monkeypatch):
    # After a's job no gpu is left: b's job cannot fit; `full`'s would, but it may run no job.
    checked = spy_on_check(monkeypatch)
    st = ClusterState((team("a", [(1, gpus(2), YOUNG)]),
                       team("b", [(2, gpus(2), YOUNG)], usage=1),
                       team("full", [(3, Res(1000, GI, 0), YOUNG)], usage=2, max_jobs=0)),
                      Res(10_000, 64 * GI, 5), NOW, BOUND)  # fmt: skip
    assert admitted_ids(st) == [1]
    assert checked[:2] == [1, 2] and 3 not in checked[2:3]  # (the decision stopped after b's)


def test_capacity_given_back_by_a_negative_demand_is_seen_after_a_no_to_stop():
    # x's jobs (2 gpus) do not fit the 1 free gpu (z runs on 5 of 6) when the pass first asks
    # whether it may stop (no: y's job fits). y's job asks for -1 gpu, so after it x's last
    # job fits.
    give_back = Res(1000, GI, -1)
    st = ClusterState((team("x", [(1, gpus(2), 1.0), (2, gpus(2), 2.0), (3, gpus(2), 10.0)]),
                       team("y", [(4, give_back, 5.0)]),
                       team("z", [(5, gpus(5), 6.0), (6, gpus(5), 7.0), (7, gpus(5), 8.0)],
                            usage=5)),
                      Res(100_000, 1000 * GI, 6), NOW, head_wait_seconds=1e9)  # fmt: skip
    assert admitted_ids(st) == [4, 3]


def test_a_head_that_gives_capacity_back_when_it_holds_is_not_taken_for_a_blocker():
    # m's job does not fit (no gpu free), so the pass asks whether it may stop. h's head, past
    # the bound, does not fit either (memory: 116 Gi free) but holds -3 gpus: w's job, which
    # asks for no memory, then fits.
    st = ClusterState((team("m", [(1, gpus(3), YOUNG)]),
                       dataclasses.replace(team("h", [(2, Res(0, 120 * GI, -3), OLD)]),
                                           last_admitted=5.0),
                       team("w", [(3, Res(1000, 0, 2), YOUNG)], usage=3)),
                      Res(10_000, 128 * GI, 3), NOW, BOUND)  # fmt: skip
    assert admitted_ids(st) == [3]


def test_pools_are_asked_apart():
    pools = {"a": Pool(gpus(1), frozenset({"a"})), "b": Pool(gpus(4), frozenset({"b"}))}
    big, small = team("big", [(1, gpus(2), OLD)]), team("small", [(2, gpus(3), YOUNG)], usage=1)
    st = ClusterState((dataclasses.replace(big, pool="a"), dataclasses.replace(small, pool="b")),
                      gpus(5), NOW, BOUND, pools=pools)  # fmt: skip
    assert admitted_ids(st) == [2]


@pytest.mark.parametrize("seed", range(200))
def test_a_decision_admits_what_the_full_plan_admits_first_with_young_heads(seed):
    """The recorded snapshots again, with every head young and bigger queues, so that the pass
    reads whole queues before it may stop."""
    rng = random.Random(seed)
    st = random_state(seed)
    st = dataclasses.replace(st, head_wait_seconds=rng.choice([1e9, st.head_wait_seconds]))
    for k in (1, 2, 3):
        assert decide(st, limit=k) == explain(st).admit[:k], k


@pytest.mark.parametrize("shape", ["blocked heads past the bound", "young heads", "heads fit"])
def test_a_decision_at_1000_teams_checks_a_handful_of_jobs(shape, monkeypatch):
    """Not a benchmark: how much of 10,000 queued jobs a decision reads through `check`."""
    st = decision.state(1000, 10_000)
    if shape == "young heads":
        st = dataclasses.replace(st, head_wait_seconds=1e9)
    elif shape == "heads fit":
        st = dataclasses.replace(st, capacity=st.capacity.scale(10))
    checked = spy_on_check(monkeypatch)
    admitted = decide(st, limit=2)
    assert len(admitted) == (2 if shape == "heads fit" else 1)
    assert len(checked) <= 3
