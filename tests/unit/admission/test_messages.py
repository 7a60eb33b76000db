"""What a team reads about its queued jobs (the pending messages) never names another team,
another team's jobs or its usage: every message of every plan of the equivalence snapshots
(many teams, pools, holds, borrowing, fair share) names only the job's own team and jobs."""

import re

import pytest

from tests.unit.admission.test_equivalence import states
from wrapper.admission import explain

JOB = re.compile(r"\bjob (\d+)")


def foreign(message: str, team: str, teams: list[str], owner: dict[int, str]) -> list[str]:
    """What the message says about teams other than `team`: their names, their jobs' ids."""
    out = [t for t in teams if t != team and re.search(rf"\b{re.escape(t)}\b", message)]
    return out + [f"job {j}" for j in JOB.findall(message) if owner.get(int(j)) != team]


@pytest.mark.parametrize(("name", "state"), states(), ids=lambda x: x if isinstance(x, str) else "")
def test_messages_name_only_the_callers_team(name, state):
    plan = explain(state)
    teams = [t.name for t in state.teams]
    owner = {job.id: t.name for t in state.teams for job in t.queue}
    for job_id, pending in plan.pending.items():
        found = foreign(pending.message, owner[job_id], teams, owner)
        assert not found, (job_id, owner[job_id], pending.message)


def test_the_check_sees_other_teams_words():
    """The check itself: the messages trainq used to give are caught."""
    owner = {1: "t1", 3: "t2"}
    teams = ["t1", "t2"]
    assert foreign("held for job 3 of team t2 (waited)", "t1", teams, owner) == ["t2", "job 3"]
    assert foreign("team t2 has a lower weighted share", "t1", teams, owner) == ["t2"]
    assert foreign("held for job 1 of this team", "t1", teams, owner) == []
