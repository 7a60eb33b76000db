from queue_workers.selection import Snapshot, TeamState, pick_next, round_robin
from wrapper.admission import plan
from wrapper.resources import Res
from wrapper.snapshot import ClusterState, QueuedJob
from wrapper.snapshot import TeamState as AdmissionTeam


def snap(queued: dict, last=None):
    teams = tuple(TeamState(n, 1.0, queued=q, running=0) for n, q in queued.items())
    return Snapshot(teams=teams, last_served=last)


def test_rotation_starts_after_the_team_served_last():
    assert round_robin(snap({"a": 1, "b": 1, "c": 1}, last="a")) == ["b", "c", "a"]
    assert round_robin(snap({"a": 1, "b": 1, "c": 1}, last="c")) == ["a", "b", "c"]


def test_teams_without_queued_jobs_are_left_out():
    assert round_robin(snap({"a": 0, "b": 2, "c": 0}, last="b")) == ["b"]
    assert round_robin(snap({"a": 0, "b": 0})) == []


def test_unknown_or_missing_last_team_starts_at_the_top():
    assert round_robin(snap({"a": 1, "b": 1}, last=None)) == ["a", "b"]
    assert round_robin(snap({"a": 1, "b": 1}, last="gone")) == ["a", "b"]


def test_pick_next_alternates_between_equal_teams_by_fair_share():
    """The policy in force: equal teams, equal jobs -> admissions alternate (lowest share)."""
    gpu = Res(1000, 2**30, 1)

    def team(name, ids):
        jobs = tuple(QueuedJob(i, gpu, 0, float(i)) for i in ids)
        return AdmissionTeam(name, 1.0, Res(8000, 8 * 2**30, 8), 10, None, Res(), 0, jobs)

    state = ClusterState((team("a", [1, 3, 5]), team("b", [2, 4, 6])), Res(4000, 4 * 2**30, 4), 10)
    assert [(a.team, a.job_id) for a in plan(state).admit] == [
        ("a", 1),
        ("b", 2),
        ("a", 3),
        ("b", 4),
    ]
    # A worker's decision stops early: the best admission, and whether there is another.
    assert [(a.team, a.job_id) for a in pick_next(state)] == [("a", 1), ("b", 2)]
