"""The HTTP layer with Redis and the apiserver unreachable: everything decided before the job
store is touched, and the 503 when it is needed."""

import logging
import re
import urllib.request

import pytest

from tests.support import free_port
from tests.unit.conftest import ADMIN, ALPHA, BETA
from wrapper.api import metrics

JOB = {"name": "resnet", "image": "docker.io/library/busybox:1.36"}
PROBLEM = "application/problem+json"


def assert_problem(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert "Traceback" not in response.get_data(as_text=True)
    return body


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer nope"}, {"Authorization": "alpha-dev-token"},
     {"Authorization": "Basic alpha-dev-token"}, {"Authorization": "Bearer "}],
)  # fmt: skip
def test_401_without_a_valid_token(client, headers):
    response = client.post("/v1/teams/alpha/jobs", json=JOB, headers=headers)
    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_problem(client.get("/v1/teams/alpha/queue", headers=headers), 401)


@pytest.mark.parametrize(
    ("method", "path"),
    [("post", "/v1/teams/alpha/jobs"), ("get", "/v1/teams/alpha/jobs"),
     ("get", "/v1/teams/alpha/jobs/1"), ("delete", "/v1/teams/alpha/jobs/1"),
     ("get", "/v1/teams/alpha/queue")],
)  # fmt: skip
def test_other_teams_path_is_404_like_a_missing_team(client, method, path):
    theirs = assert_problem(getattr(client, method)(path, json=JOB, headers=BETA), 404)
    missing = getattr(client, method)(path.replace("alpha", "gamma"), json=JOB, headers=BETA)
    assert assert_problem(missing, 404) == theirs  # no existence leak


def test_admin_may_use_any_team_path(client):
    # Gets past auth and scoping, then needs Redis: 503, not 401/404.
    assert_problem(client.get("/v1/teams/beta/queue", headers=ADMIN), 503)


def test_415_for_non_json(client):
    body = assert_problem(
        client.post("/v1/teams/alpha/jobs", data="name=x", headers=ALPHA,
                    content_type="application/x-www-form-urlencoded"),
        415,
    )  # fmt: skip
    assert "application/json" in body["detail"]
    assert_problem(client.post("/v1/teams/alpha/jobs", data="{}", headers=ALPHA), 415)


def test_413_for_oversize_body(client):
    big = {**JOB, "env": {f"V{i}": "x" * 1000 for i in range(80)}}  # ~80 KiB > 64 KiB
    assert_problem(client.post("/v1/teams/alpha/jobs", json=big, headers=ALPHA), 413)


def test_400_for_malformed_json(client):
    body = assert_problem(
        client.post("/v1/teams/alpha/jobs", data="{nope", headers=ALPHA,
                    content_type="application/json"),
        400,
    )  # fmt: skip
    assert "Malformed JSON" in body["detail"]


def test_422_names_each_bad_field(client):
    bad = {"image": "quay.io/x", "env": {"RANK": "0"}, "resources": {"memory": "lots"}, "x": 1}
    body = assert_problem(client.post("/v1/teams/alpha/jobs", json=bad, headers=ALPHA), 422)
    assert {e["field"] for e in body["errors"]} == {
        "name", "image", "env.RANK", "resources.memory", "x",
    }  # fmt: skip
    assert_problem(client.post("/v1/teams/alpha/jobs", json=[JOB], headers=ALPHA), 422)


def test_422_for_bad_list_parameters_and_idempotency_key(client):
    for query in ("status=done", "limit=0", "limit=501", "limit=x", "cursor=-3"):
        body = assert_problem(client.get(f"/v1/teams/alpha/jobs?{query}", headers=ALPHA), 422)
        assert body["errors"][0]["field"] == query.split("=")[0]
    headers = {**ALPHA, "Idempotency-Key": "k" * 256}
    body = assert_problem(client.post("/v1/teams/alpha/jobs", json=JOB, headers=headers), 422)
    assert body["errors"][0]["field"] == "Idempotency-Key"


@pytest.mark.parametrize("value", ["yes", "1", "True", ""])
def test_422_for_a_dry_run_that_is_not_true_or_false(client, value):
    for path in ("/v1/teams/alpha/jobs", "/v1/train"):
        response = client.post(f"{path}?dry_run={value}", json=JOB, headers=ALPHA)
        body = assert_problem(response, 422)  # decided before Redis is touched
        assert body["errors"] == [{"field": "dry_run", "message": "must be true or false"}]


def test_a_dry_run_needs_redis_like_a_submission(client):
    for value in ("true", "false"):
        response = client.post(f"/v1/teams/alpha/jobs?dry_run={value}", json=JOB, headers=ALPHA)
        assert_problem(response, 503)


def test_503_when_redis_is_down(client):
    body = assert_problem(client.post("/v1/teams/alpha/jobs", json=JOB, headers=ALPHA), 503)
    assert "Redis" in body["detail"]
    assert_problem(client.get("/v1/teams/alpha/jobs/1", headers=ALPHA), 503)


def test_health_endpoints(client, caplog):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    with caplog.at_level(logging.WARNING):
        response = client.get("/readyz")
    body = assert_problem(response, 503)
    assert body["detail"] == "Not ready: redis unreachable, apiserver unreachable"
    assert body["errors"] == [
        {"field": "redis", "message": "unreachable"},
        {"field": "apiserver", "message": "unreachable"},
    ]
    # Public and anonymous: no address, port or error text; the log has them.
    port = client.application.extensions["trainq"].settings.redis_url.rsplit(":", 1)[1]
    text = response.get_data(as_text=True)
    assert "127.0.0.1" not in text and port.split("/")[0] not in text, text
    assert any("127.0.0.1" in r.getMessage() for r in caplog.records if "not ready" in r.msg)


def test_unknown_route_and_method_are_problems(client):
    assert_problem(client.get("/v2/nothing"), 404)
    response = client.put("/v1/teams/alpha/jobs", headers=ALPHA)
    assert_problem(response, 405)
    assert "POST" in response.headers["Allow"]


def test_500_is_generic_and_logged(offline_app, caplog):
    def boom():
        raise RuntimeError("secret internals")

    offline_app.add_url_rule("/boom", view_func=boom)
    with caplog.at_level(logging.ERROR):
        response = offline_app.test_client().get("/boom")
    body = assert_problem(response, 500)
    assert "secret internals" not in response.get_data(as_text=True)
    assert body["detail"].startswith("An unexpected error")
    assert any("secret internals" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_openapi_documents_every_route(offline_app, client):
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    for rule in offline_app.url_map.iter_rules():
        # The dashboard's pages and files (wrapper.api.ui) are not API operations.
        if rule.endpoint == "static" or rule.endpoint.startswith("ui."):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)  # <int:job_id> -> {job_id}
        assert path in doc["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], (method, path)
    schemas = doc["components"]["schemas"]
    assert {"JobRequest", "JobRecord", "JobList", "QueueView", "Problem"} <= set(schemas)
    assert schemas["JobRequest"]["additionalProperties"] is False
    post = doc["paths"]["/v1/teams/{team}/jobs"]["post"]["responses"]
    assert {"202", "401", "404", "413", "415", "422", "503"} <= set(post)


def test_metrics_only_on_their_own_port(client, offline_app):
    """Metrics carry per-team labels: the API's port (the one an ingress exposes) does not
    serve them; the metrics port does, and counts what the API answered."""
    client.get("/v1/teams/alpha/queue")  # 401
    assert_problem(client.get("/metrics"), 404)
    assert "/metrics" not in client.get("/openapi.json").get_json()["paths"]
    port = free_port()
    server, thread = metrics.serve("127.0.0.1", port, offline_app.extensions["trainq"].store.redis)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
            text = answer.read().decode()
    finally:
        server.shutdown()
        thread.join(5)
    assert 'trainq_http_errors_total{status="401"}' in text
