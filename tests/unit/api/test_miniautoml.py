"""The MiniAutoML protocol's pure parts (wrapper.api.miniautoml) and the /v1/train HTTP layer up to
the point where Redis is needed: the seed's validation order and sentences, parameters, the
PARALLEL_INSTANCES mapping, job ids as numbers or strings, and the status mapping."""

import pytest

from tests.unit.conftest import ADMIN, ALPHA
from wrapper.api import miniautoml
from wrapper.api.miniautoml import InvalidArgument
from wrapper.api.schemas import JobRequest
from wrapper.jobs.states import JobStatus

PROBLEM = "application/problem+json"
# ts-002-start-run.sh
SINGLE = {
    "algorithm": "intent-classification",
    "dataset_id": "1",
    "name": "test1",
    "train_data_version_hash": "hashBA==",
    "output_model_name": "my-intent-classification-model",
    "parameters": {"LR": "4", "EPOCHS": "15", "BATCH_SIZE": "64", "FC_SIZE": "128"},
}
SEED_ORDER = [
    ("output_model_name", '"outputModelName" is required.'),
    ("dataset_id", '"datasetId" is required.'),
    ("train_data_version_hash", '"trainDataVersionHash" is required.'),
    ("algorithm", '"algorithm" is required.'),
]


def invalid(fn, *args) -> str:
    with pytest.raises(InvalidArgument) as exc:
        fn(*args)
    return str(exc.value)


# --- Train request ---------------------------------------------------------------------------
def test_the_seed_body_parses_to_its_metadata():
    assert miniautoml.parse_train({"metadata": SINGLE}) == SINGLE


def test_missing_fields_in_the_seed_order():
    """Remove the required fields one by one in reverse: each time the first missing one in
    the seed's order is the one reported."""
    assert invalid(miniautoml.parse_train, {}) == SEED_ORDER[0][1]
    assert invalid(miniautoml.parse_train, {"metadata": None}) == SEED_ORDER[0][1]
    for i, (_, message) in enumerate(SEED_ORDER):
        missing = {field for field, _ in SEED_ORDER[i:]}
        body = {k: v for k, v in SINGLE.items() if k not in missing}
        assert invalid(miniautoml.parse_train, {"metadata": body}) == message
        empty = {**SINGLE, **{k: "" for k in missing}}  # proto3: empty is absent
        assert invalid(miniautoml.parse_train, {"metadata": empty}) == message


def test_name_and_parameters_are_optional():
    body = {k: v for k, v in SINGLE.items() if k not in ("name", "parameters")}
    assert miniautoml.parse_train({"metadata": body}) == {**body, "name": "", "parameters": {}}


def test_lower_camel_case_names_are_accepted_like_protobuf_json():
    camel = {
        "algorithm": "a",
        "datasetId": "1",
        "trainDataVersionHash": "h",
        "outputModelName": "m",
    }
    assert miniautoml.parse_train({"metadata": camel})["dataset_id"] == "1"
    both = {**camel, "dataset_id": "1"}
    assert "twice" in invalid(miniautoml.parse_train, {"metadata": both})


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ([], "The request must be a JSON object."),
        ({"meta": {}}, 'The request has no field named "meta".'),
        ({"metadata": []}, '"metadata" must be a JSON object.'),
        ({"metadata": {**SINGLE, "gpus": "1"}}, '"metadata" has no field named "gpus".'),
        ({"metadata": {**SINGLE, "dataset_id": 1}}, '"datasetId" must be a string.'),
        ({"metadata": {**SINGLE, "parameters": ["LR"]}}, '"parameters" must be a JSON object'),
        ({"metadata": {**SINGLE, "parameters": {"LR": 4}}}, 'Parameter "LR" must be a string.'),
    ],
)
def test_malformed_requests(body, message):
    assert invalid(miniautoml.parse_train, body).startswith(message)


# --- parameters ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("MASTER_ADDR", "operator sets it"),
        ("RANK", "operator sets it"),
        ("WORLD_SIZE", "operator sets it"),
        ("JOB_ID", "operator sets it"),
        ("TRAINING_DATASET_ID", "operator sets it"),
        ("PET_NNODES", "operator sets it"),
        ("TRAINQ_TEAM", "operator sets it"),
        ("MODEL_NAME", '"outputModelName"'),
        ("ALGORITHM_NAME", '"algorithm"'),
        ("1LR", "not a valid environment variable name"),
    ],
)
def test_parameters_that_cannot_be_env_vars_are_refused_by_name(name, says):
    message = invalid(miniautoml.check_parameters, {"LR": "4", name: "x"}, 32)
    assert message.startswith(f'Parameter "{name}"') and says in message


@pytest.mark.parametrize(("value", "workers"), [(None, 0), ("1", 0), ("3", 2), ("33", 32)])
def test_parallel_instances_is_one_master_plus_workers(value, workers):
    params = {"LR": "4"} if value is None else {"PARALLEL_INSTANCES": value}
    assert miniautoml.check_parameters(params, 32) == workers


@pytest.mark.parametrize("value", ["0", "-1", "34", "three", "", "2.5"])
def test_bad_parallel_instances(value):
    message = invalid(miniautoml.check_parameters, {"PARALLEL_INSTANCES": value}, 32)
    assert message == (
        f'Parameter "PARALLEL_INSTANCES" must be an integer from 1 to 33, got "{value}".'
    )


@pytest.mark.parametrize(
    ("name", "algorithm", "expected"),
    [
        ("test1", "x", "test1"),
        ("test-parallel", "x", "test-parallel"),
        ("My Intent Run #2", "x", "my-intent-run-2"),
        ("", "intent-classification", "intent-classification"),
        ("42", "9", "train"),
        ("x" * 60, "a", "x" * 40),
        ("a" * 39 + "-bc", "x", "a" * 39),
    ],
)
def test_job_names_are_dns_labels(name, algorithm, expected):
    assert miniautoml.job_name(name, algorithm) == expected


def test_job_request_carries_the_seed_variables(config):
    parallel = {**SINGLE, "parameters": {**SINGLE["parameters"], "PARALLEL_INSTANCES": "3"}}
    body = miniautoml.job_request(parallel, 2)
    assert body == {
        "name": "test1",
        "algorithm": "intent-classification",
        "env": {
            **parallel["parameters"],
            "ALGORITHM_NAME": "intent-classification",
            "MODEL_NAME": "my-intent-classification-model",
        },
        "workers": 2,
        "dataset": {"id": "1", "version_hash": "hashBA=="},
    }
    JobRequest.model_validate(body, context={"config": config})  # a valid job


def test_job_request_errors_are_named_as_in_train():
    assert miniautoml.request_field("env.X-Y") == "parameters.X-Y"
    assert miniautoml.request_field("env") == "parameters"
    assert miniautoml.request_field("dataset.id") == "dataset_id"
    assert miniautoml.request_field("dataset.version_hash") == "train_data_version_hash"
    assert miniautoml.request_field("name") == "name"


# --- job ids ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "job_id"),
    [
        ({"job_id": 1}, 1),
        ({"job_id": "1"}, 1),
        ({"jobId": "12"}, 12),
        ({"job_id": 3.0}, 3),
        ({}, 0),
        ({"job_id": ""}, 0),
        ({"job_id": "007"}, 7),
    ],
)
def test_job_id_as_number_or_numeric_string(body, job_id):
    assert miniautoml.parse_job_id(body) == job_id


@pytest.mark.parametrize(
    "body",
    [
        {"job_id": "one"},
        {"job_id": " 7 "},  # exactly what the document's pattern says: no surrounding space
        {"job_id": "\u0667"},
        {"job_id": True},
        {"job_id": 1.5},
        {"job_id": [1]},
        {"job_id": 2**31},
        {"id": 1},
        [1],
    ],
)
def test_bad_job_ids(body):
    invalid(miniautoml.parse_job_id, body)


# --- status ----------------------------------------------------------------------------------
def test_every_job_status_has_a_seed_status():
    assert set(miniautoml.STATUS) == set(JobStatus)
    assert set(miniautoml.STATUS.values()) == {"queuing", "launch", "running", "succeed", "failure"}


def rec(status: str, message=None, **spec) -> dict:
    return {
        "id": 5,
        "name": "test1",
        "status": status,
        "message": message,
        "spec": {"train_metadata": SINGLE, **spec},
    }


@pytest.mark.parametrize(
    ("status", "seed"),
    [
        ("queued", "queuing"),
        ("dispatching", "launch"),
        ("created", "launch"),
        ("running", "running"),
        ("restarting", "running"),
        ("succeeded", "succeed"),
        ("failed", "failure"),
        ("cancelling", "failure"),
        ("cancelled", "failure"),
    ],
)
def test_status_mapping(status, seed):
    answer = miniautoml.status_response(rec(status, "PyTorchJob x is running."), 3)
    assert answer["status"] == seed and answer["job_id"] == 5
    assert answer["metadata"] == SINGLE
    if seed == "queuing":
        assert answer["positionInQueue"] == 3
        assert answer["message"] == "Queueing, there are 3 training jobs waiting before this."
    else:
        assert answer["positionInQueue"] == 0 and answer["message"] == "PyTorchJob x is running."


def test_status_answer_shape():
    answer = miniautoml.status_response(rec("queued"), None)
    assert list(answer) == ["status", "job_id", "message", "metadata", "positionInQueue"]
    assert answer["positionInQueue"] == 0
    assert miniautoml.status_response(rec("succeeded"), None)["message"] == ""
    miniautoml.TrainStatusResponse.model_validate(answer)


def test_metadata_of_a_job_submitted_natively():
    spec = {
        "algorithm": {"name": "intent", "version": "1"},
        "dataset": {"id": "d", "version_hash": "h"},
        "env": {"LR": "1", "MODEL_NAME": "m", "ALGORITHM_NAME": "intent"},
    }
    record = {"id": 1, "name": "resnet", "status": "queued", "spec": spec}
    assert miniautoml.metadata_of(record) == {
        "algorithm": "intent",
        "dataset_id": "d",
        "name": "resnet",
        "train_data_version_hash": "h",
        "parameters": {"LR": "1"},
        "output_model_name": "m",
    }
    bare = {"id": 1, "name": "r", "status": "queued", "spec": {"env": {}, "dataset": None}}
    assert miniautoml.metadata_of(bare)["algorithm"] == ""


# --- HTTP without Redis ----------------------------------------------------------------------
def problem(response, status) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    return response.get_json(force=True)


def test_train_answers_the_seed_sentence_before_touching_redis(client):
    for field, message in SEED_ORDER:
        body = {"metadata": {**SINGLE, field: ""}}
        detail = problem(client.post("/v1/train", json=body, headers=ALPHA), 400)["detail"]
        if field == "output_model_name":
            assert detail == message
    missing_all = {"metadata": {"name": "x"}}
    assert problem(client.post("/v1/train", json=missing_all, headers=ALPHA), 400)["detail"] == (
        '"outputModelName" is required.'
    )
    bad = {"metadata": {**SINGLE, "parameters": {"MASTER_ADDR": "evil"}}}
    detail = problem(client.post("/v1/train", json=bad, headers=ALPHA), 400)["detail"]
    assert detail.startswith('Parameter "MASTER_ADDR" cannot be given')
    bad_dataset = {"metadata": {**SINGLE, "dataset_id": "a b"}}
    body = problem(client.post("/v1/train", json=bad_dataset, headers=ALPHA), 400)
    assert body["detail"].startswith('"dataset_id":') and body["errors"][0]["field"] == "dataset_id"
    # Valid: the registry (Redis) is next.
    problem(client.post("/v1/train", json={"metadata": SINGLE}, headers=ALPHA), 503)


def test_train_needs_a_team_token(client):
    problem(client.post("/v1/train", json={"metadata": SINGLE}), 401)
    assert (
        "team"
        in problem(client.post("/v1/train", json={"metadata": SINGLE}, headers=ADMIN), 403)[
            "detail"
        ]
    )
    problem(client.post("/v1/train", data="x", headers=ALPHA, content_type="text/plain"), 415)
    problem(client.post("/v1/train", data="{", headers=ALPHA, content_type="application/json"), 400)


def test_status_parses_the_id_before_touching_redis(client):
    problem(client.get("/v1/train/1/status"), 401)
    problem(client.post("/v1/train/status", json={"job_id": "1"}), 401)
    assert problem(client.get("/v1/train/abc/status", headers=ALPHA), 400)["detail"] == (
        '"job_id" must be an integer.'
    )
    problem(client.post("/v1/train/status", json={"job_id": "x"}, headers=ALPHA), 400)
    problem(client.post("/v1/train/status", json={"job_id": "1"}, headers=ALPHA), 503)
    problem(client.get("/v1/train/1/status", headers=ADMIN), 503)


def test_openapi_marks_the_compatibility_surface(client):
    doc = client.get("/openapi.json").get_json()
    tag = "MiniAutoML compatibility"
    assert tag in {t["name"] for t in doc["tags"]}
    for path, method in [
        ("/v1/train", "post"),
        ("/v1/train/status", "post"),
        ("/v1/train/{job_id}/status", "get"),
    ]:
        assert doc["paths"][path][method]["tags"] == [tag]
    schemas = doc["components"]["schemas"]
    assert schemas["TrainStatusResponse"]["properties"]["status"]["enum"] == [
        "queuing",
        "launch",
        "running",
        "succeed",
        "failure",
    ]
    assert "positionInQueue" in schemas["TrainStatusResponse"]["properties"]
