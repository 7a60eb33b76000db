"""The round-robin baseline the benchmarks compare the admission policy with."""

from benchmarks.baselines import RoundRobinSnapshot, RoundRobinTeam, round_robin


def snap(queued: dict, last=None):
    teams = tuple(RoundRobinTeam(n, 1.0, queued=q, running=0) for n, q in queued.items())
    return RoundRobinSnapshot(teams=teams, last_served=last)


def test_rotation_starts_after_the_team_served_last():
    assert round_robin(snap({"a": 1, "b": 1, "c": 1}, last="a")) == ["b", "c", "a"]
    assert round_robin(snap({"a": 1, "b": 1, "c": 1}, last="c")) == ["a", "b", "c"]


def test_teams_without_queued_jobs_are_left_out():
    assert round_robin(snap({"a": 0, "b": 2, "c": 0}, last="b")) == ["b"]
    assert round_robin(snap({"a": 0, "b": 0})) == []


def test_unknown_or_missing_last_team_starts_at_the_top():
    assert round_robin(snap({"a": 1, "b": 1}, last=None)) == ["a", "b"]
    assert round_robin(snap({"a": 1, "b": 1}, last="gone")) == ["a", "b"]
