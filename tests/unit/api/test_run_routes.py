"""The metrics, runs and logs routes decide what they can before Redis or the apiserver: a bad
query parameter is a 422 naming it, a report without a bearer token a 401 (no Redis read)."""

import pytest

from tests.unit.conftest import ALPHA


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("replica=Chief", "replica"),
        ("index=-1", "index"),
        ("index=x", "index"),
        ("tail=0", "tail"),
        ("tail=100001", "tail"),
        ("follow=yes", "follow"),
        ("since=1", "since"),
    ],
)
def test_bad_log_parameters_name_the_field(client, query, field):
    r = client.get(f"/v1/teams/alpha/jobs/1/logs?{query}", headers=ALPHA)
    assert r.status_code == 422, r.get_json()
    assert r.get_json()["errors"][0]["field"] == field


def test_a_report_needs_the_jobs_token(client):
    r = client.post("/v1/teams/alpha/jobs/1/metrics", json={"epochs": []})
    assert r.status_code == 401 and "TRAINQ_METRICS_TOKEN" in r.get_json()["detail"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_teams_paths_are_not_found(client):
    for path in (
        "/v1/teams/beta/runs",
        "/v1/teams/beta/jobs/1/logs",
        "/v1/teams/beta/jobs/1/metrics",
    ):
        assert client.get(path, headers=ALPHA).status_code == 404, path


def test_runs_limit_is_checked_first(client):
    r = client.get("/v1/teams/alpha/runs?limit=999", headers=ALPHA)
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "limit"
