"""A job re-queued after its pods were not ready (wrapper.admission.readiness) waits out its
backoff: `WaitingForBackoff`, holding nothing, blocking none of its team's later jobs, and a
worker's decision still admits what the full plan admits first."""

import dataclasses
import random

import pytest

from tests.unit.admission.test_decide import BOUND, NOW, OLD, YOUNG, gpus, team
from tests.unit.admission.test_equivalence import node_state, random_state
from wrapper.admission import WAITING_FOR_BACKOFF, decide, explain
from wrapper.admission.snapshot import ClusterState


def admitted(st: ClusterState, k: int = 3) -> list[int]:
    ids = [a.job_id for a in decide(st, limit=k)]
    assert ids == [a.job_id for a in explain(st).admit[:k]]
    return ids


@pytest.mark.parametrize("submitted", [OLD, YOUNG])
def test_a_job_in_backoff_waits_and_its_teams_later_jobs_go_on(submitted):
    st = ClusterState((team("a", [(1, gpus(2), submitted), (2, gpus(2), YOUNG)]),),
                      gpus(10), NOW, BOUND, backoff={1: NOW + 12})  # fmt: skip
    plan = explain(st)
    assert plan.pending[1].reason == WAITING_FOR_BACKOFF
    assert plan.pending[1].message == (
        "re-queued after its pods were not ready; tries again in 12s"
    )
    assert admitted(st) == [2]
    # Once due (a snapshot reads only entries not yet due) it is admitted first again.
    assert admitted(dataclasses.replace(st, backoff={})) == [1, 2]


def test_a_job_in_backoff_holds_no_capacity_even_past_the_bound():
    # 4 gpus free; a's head (past the bound, in backoff) asks 4: it holds nothing, so b's job
    # (a higher share, considered after it) and a's later job still get in.
    st = ClusterState((team("a", [(1, gpus(4), OLD), (2, gpus(1), YOUNG)]),
                       team("b", [(3, gpus(3), YOUNG)], usage=6)),
                      gpus(10), NOW, BOUND, backoff={1: NOW + 5})  # fmt: skip
    assert sorted(admitted(st)) == [2, 3]
    # Without the backoff the same head holds the capacity: b waits.
    assert admitted(dataclasses.replace(st, backoff={})) == [1]


def test_identical_jobs_behind_one_in_backoff_are_not_taken_for_blocked():
    # 1 can never fit (it closes the team's head); 2 waits out its backoff; 3, the same shape
    # as 2, is not in backoff and fits.
    st = ClusterState((team("a", [(1, gpus(9), YOUNG), (2, gpus(2), YOUNG), (3, gpus(2), YOUNG)]),),
                      gpus(4), NOW, BOUND, backoff={2: NOW + 5})  # fmt: skip
    plan = explain(st)
    assert plan.pending[2].reason == WAITING_FOR_BACKOFF
    assert admitted(st) == [3]


def test_a_worker_does_not_stop_at_an_overdue_head_in_backoff():
    # b (lower share) goes first and does not fit: the worker asks whether it may stop. a's head
    # is past the bound and does not fit either, but it is in backoff: it holds nothing, and
    # a's next job fits.
    st = ClusterState((team("a", [(1, gpus(5), OLD), (2, gpus(1), YOUNG)], usage=6),
                       team("b", [(3, gpus(5), YOUNG)])),
                      gpus(10), NOW, BOUND, backoff={1: NOW + 5})  # fmt: skip
    assert admitted(st, 2) == [2]


@pytest.mark.parametrize("seed", range(150))
def test_a_decision_admits_what_the_full_plan_admits_first_with_jobs_in_backoff(seed):
    rng = random.Random(seed)
    st = node_state(seed) if seed % 2 else random_state(seed)
    queued = [j.id for t in st.teams for j in t.queue]
    chosen = rng.sample(queued, k=min(len(queued), rng.randint(1, 6)))
    st = dataclasses.replace(st, backoff={i: st.now + 10 for i in chosen},
                             head_wait_seconds=rng.choice([0.0, st.head_wait_seconds]))  # fmt: skip
    full = explain(st)
    assert not {a.job_id for a in full.admit} & set(chosen)
    # (its reason may also be a blocked identical job's, or a held head's in front of it)
    for k in (1, 2, 3):
        assert decide(st, limit=k) == full.admit[:k], k
