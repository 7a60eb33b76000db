"""The worker's selection: the admission policy in force, as a worker asks it."""

from queue_workers.worker.selection import pick_next
from wrapper.admission import explain
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState


def test_pick_next_alternates_between_equal_teams_by_fair_share():
    """The policy in force: equal teams, equal jobs -> admissions alternate (lowest share)."""
    gpu = Res(1000, 2**30, 1)

    def team(name, ids):
        jobs = tuple(Candidate(i, gpu, 0, float(i)) for i in ids)
        return TeamState(name, 1.0, Res(8000, 8 * 2**30, 8), 10, None, Res(), 0, jobs)

    state = ClusterState((team("a", [1, 3, 5]), team("b", [2, 4, 6])), Res(4000, 4 * 2**30, 4), 10)
    assert [(a.team, a.job_id) for a in explain(state).admit] == [
        ("a", 1),
        ("b", 2),
        ("a", 3),
        ("b", 4),
    ]
    # A worker's decision stops early: the best admission, and whether there is another.
    assert [(a.team, a.job_id) for a in pick_next(state)] == [("a", 1), ("b", 2)]
