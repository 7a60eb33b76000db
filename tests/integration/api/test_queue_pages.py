"""A deep team queue through the API on a real Redis: `GET .../queue` pages through it (the
admission view's jobs in its order, then the entries past `admission.lookahead` by rank), a
job deeper than admission looks says so with its place, and so does a dry run that would
land there. Lookahead 3 here stands for the default 500."""

import pytest

from wrapper.api.app import create_app

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
QUEUE = "/v1/teams/alpha/queue"


@pytest.fixture
def client(local_config, api_settings, scratch_url):
    admission = local_config.admission.model_copy(update={"lookahead": 3})
    config = local_config.model_copy(update={"admission": admission})
    return create_app(config, api_settings(scratch_url)).test_client()


def submit(client, name, **fields):
    body = {"name": name, "image": "docker.io/library/busybox", **fields}
    response = client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def test_pages_walk_the_whole_queue_in_admission_order(client, store):
    ids = [submit(client, f"j{i}") for i in range(8)]
    urgent = submit(client, "urgent", priority=5)
    seen, cursor, pages = [], None, 0
    while True:
        url = f"{QUEUE}?limit=4" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=ALPHA).get_json()
        assert page["queued"] == 9
        seen += page["jobs"]
        cursor, pages = page["next_cursor"], pages + 1
        if cursor is None:
            break
    assert pages == 3 and [j["id"] for j in seen] == [urgent, *ids]
    assert [j["id"] for j in seen] == store.queues.ids("alpha")
    planned, deeper = seen[:3], seen[3:]
    assert all(j["pending_reason"] != "WaitingForTeamQueue" for j in planned)
    assert [j["position"] for j in deeper] == list(range(3, 9))
    assert {j["pending_reason"] for j in deeper} == {"WaitingForTeamQueue"}
    assert all(j["global_position"] is None and j["eta_seconds"] is None for j in deeper)
    assert "6 jobs of its team are ahead of it" in deeper[3]["message"]


def test_a_job_deeper_than_admission_looks_shows_its_place(client):
    ids = [submit(client, f"j{i}") for i in range(5)]
    deep = client.get(f"/v1/teams/alpha/jobs/{ids[4]}", headers=ALPHA).get_json()
    assert deep["position"] == 4 and deep["pending_reason"] == "WaitingForTeamQueue"
    head = client.get(f"/v1/teams/alpha/jobs/{ids[0]}", headers=ALPHA).get_json()
    assert head["position"] == 0 and head["pending_reason"] != "WaitingForTeamQueue"


def test_a_dry_run_behind_the_lookahead_answers_its_place_only(client):
    for i in range(4):
        submit(client, f"j{i}")
    deep = client.post("/v1/teams/alpha/jobs?dry_run=true", headers=ALPHA,
                       json={"name": "what-if", "image": "docker.io/library/busybox"})  # fmt: skip
    body = deep.get_json()
    assert deep.status_code == 200 and body["pending_reason"] == "WaitingForTeamQueue"
    assert body["position"] == 4 and body["global_position"] is None
    first = client.post("/v1/teams/alpha/jobs?dry_run=true", headers=ALPHA,
                        json={"name": "urgent", "image": "docker.io/library/busybox",
                              "priority": 9})  # fmt: skip
    assert first.get_json()["position"] == 0
    assert first.get_json()["pending_reason"] != "WaitingForTeamQueue"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("cursor=0", "cursor"),
        ("cursor=-1", "cursor"),
    ],
)
def test_bad_paging_is_422_naming_the_parameter(client, query, field):
    response = client.get(f"{QUEUE}?{query}", headers=ALPHA)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert [e["field"] for e in response.get_json()["errors"]] == [field]
