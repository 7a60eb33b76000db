"""Bodies past what Python's json and int() take — an integer of thousands of digits, nesting
a thousand deep — and numbers in non-ASCII digits: a 400/422 problem naming the field on both
submission surfaces (each in its own words), never a 500, and nothing written (Redis is
unreachable here, so anything that got as far as the store would be a 503)."""

import json

import pytest

from tests.unit.api.test_offline import assert_problem
from tests.unit.conftest import ALPHA
from wrapper.api import bodies

JOB = {"name": "resnet", "image": "docker.io/library/busybox:1.36"}
TRAIN = {"metadata": {"algorithm": "intent-classification", "datasetId": "d",
                      "trainDataVersionHash": "h", "outputModelName": "m"}}  # fmt: skip
HUGE = "9" * 5000  # Python's int() stops at 4,300 digits


def post(client, path: str, text: str):
    return client.post(path, data=text, headers=ALPHA, content_type="application/json")


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


def job_errors(response, status=422) -> dict[str, str]:
    body = assert_problem(response, status)
    return {e["field"]: e["message"] for e in body["errors"]}


@pytest.mark.parametrize("field", ["workers", "priority", "backoff_limit", "max_runtime_seconds"])
@pytest.mark.parametrize("digits", [HUGE, "-" + HUGE, "1" * 65], ids=["huge", "negative", "65"])
def test_a_huge_integer_is_refused_naming_its_field(client, field, digits):
    text = json.dumps(JOB)[:-1] + f', "{field}": {digits}}}'
    assert field in job_errors(post(client, "/v1/teams/alpha/jobs", text))


def test_a_huge_integer_anywhere_names_where_it_is(client):
    text = json.dumps({**JOB, "resources": {"gpu": 0}}).replace('"gpu": 0', f'"gpu": {HUGE}')
    assert "resources.gpu" in job_errors(post(client, "/v1/teams/alpha/jobs", text))
    text = json.dumps({**JOB, "env": {"LR": "x"}}).replace('"x"', HUGE)
    assert "env.LR" in job_errors(post(client, "/v1/teams/alpha/jobs", text))


@pytest.mark.parametrize(
    ("text", "field"),
    [('{"env": ' + nested(5000) + "}", "env"),
     ('{"name": "x", "labels": {"a": ' + nested(40) + "}}", "labels"),
     (nested(30_000), "(body)"),
     ('{"a": {"b": ' + nested(1000, '"]]]]"') + "}}", "a")],
    ids=["env", "labels", "top-level", "strings-inside"],
)  # fmt: skip
def test_deep_nesting_is_refused_naming_the_top_level_field(client, text, field):
    errs = job_errors(post(client, "/v1/teams/alpha/jobs", text))
    assert errs == {field: f"nested deeper than {bodies.MAX_DEPTH} levels"}


def test_brackets_inside_strings_do_not_count(client):
    body = {**JOB, "args": ["[" * 5000, "{" * 5000 + '\\"'], "labels": {"project": "x"}}
    # Past the nesting check: the body is only refused for the args' size (no Redis here: 503).
    assert_problem(client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA), 503)


def test_nan_and_infinity_are_not_json(client):
    for constant in ("NaN", "Infinity", "-Infinity"):
        text = json.dumps(JOB)[:-1] + f', "priority": {constant}}}'
        body = assert_problem(post(client, "/v1/teams/alpha/jobs", text), 400)
        assert constant in body["detail"]


# --- the MiniAutoML surface: 400 INVALID_ARGUMENT, the field named in its detail -------------
def train_problem(response) -> dict:
    body = assert_problem(response, 400)
    assert body["type"].endswith("/invalid-argument")
    return body


def test_train_huge_integer(client):
    text = json.dumps(TRAIN).replace('"d"', HUGE)
    assert train_problem(post(client, "/v1/train", text))["detail"] == (
        '"datasetId" must be a string.'
    )
    text = json.dumps({"job_id": 1}).replace("1", HUGE)
    assert "job_id" in train_problem(post(client, "/v1/train/status", text))["detail"]


@pytest.mark.parametrize("path", ["/v1/train", "/v1/train/status"])
def test_train_deep_nesting(client, path):
    text = f'{{"metadata": {nested(3000)}}}' if path == "/v1/train" else nested(3000)
    body = train_problem(post(client, path, text))
    field = "metadata" if path == "/v1/train" else "(body)"
    assert body["detail"] == f'"{field}": nested deeper than {bodies.MAX_DEPTH} levels'
    assert body["errors"] == [{"field": field, "message": body["detail"].split(": ", 1)[1]}]


@pytest.mark.parametrize("value", ["²", "٣", "١٢", "³²", HUGE, "1\n2", "\U0001d7d9"], ids=repr)
def test_parallel_instances_in_other_digits(client, value):
    body = {"metadata": {**TRAIN["metadata"], "parameters": {"PARALLEL_INSTANCES": value}}}
    detail = train_problem(client.post("/v1/train", json=body, headers=ALPHA))["detail"]
    assert detail.startswith('Parameter "PARALLEL_INSTANCES" must be an integer from 1 to 33')


@pytest.mark.parametrize("job_id", ["²", "٣", HUGE, "0" * 5000 + "7", "1\n"], ids=len)
def test_status_path_ids_in_other_digits(client, job_id):
    response = client.get(f"/v1/train/{job_id}/status", headers=ALPHA)
    assert response.status_code in (400, 404, 503), response.get_data(as_text=True)[:300]
    assert response.status_code != 500


def test_integral_numbers_are_integers_as_json_schema_reads_them(client):
    """2.0 and 2e0 are the integer 2 (past validation, the job store is needed: 503)."""
    for number in ("2.0", "2e0", "0.2e1"):
        text = json.dumps(JOB)[:-1] + f', "workers": {number}}}'
        assert_problem(post(client, "/v1/teams/alpha/jobs", text), 503)
    text = json.dumps(JOB)[:-1] + ', "workers": 2.5}'
    assert "workers" in job_errors(post(client, "/v1/teams/alpha/jobs", text))
