"""Workers take jobs from the teams' queues by weighted fair share (equal teams with equal jobs
alternate; ties go to the earlier submission), and by priority within a team."""

import pytest

from tests.support.stack import job_body, unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_fair_share_across_teams_and_priority_within_a_team(private_stack):
    stack = private_stack
    api = stack.start_api()
    submitted = []  # while no worker runs, everything queues up
    for team, priority in [("alpha", 0), ("alpha", 0), ("alpha", 9), ("beta", 0), ("beta", 0)]:
        rec = api.submit_ok(team, job_body(unique(team), workers=0, priority=priority))
        submitted.append((team, rec["id"]))
    alpha_ids = [i for t, i in submitted if t == "alpha"]
    beta_ids = [i for t, i in submitted if t == "beta"]
    queue = api.queue("alpha").json()
    assert [j["id"] for j in queue["jobs"]] == [alpha_ids[2], alpha_ids[0], alpha_ids[1]]

    stack.start_worker("only")
    records = [api.wait_status(t, i, {"created", "running", "succeeded"}, 60) for t, i in submitted]
    order = [(r["team"], r["id"]) for r in sorted(records, key=lambda r: r["admitted_at"])]
    assert order == [
        ("alpha", alpha_ids[2]),  # highest priority first within alpha
        ("beta", beta_ids[0]),
        ("alpha", alpha_ids[0]),
        ("beta", beta_ids[1]),
        ("alpha", alpha_ids[1]),
    ]
