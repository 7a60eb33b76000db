"""The MiniAutoML-compatible endpoints on a real Redis (Flask test client; no cluster, no
workers, so jobs stay queued): the seed scripts' bodies, sequential ids, the queuing answer
with positions, job ids as numbers or strings, team scoping, and the job record behind it."""

import pytest

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
BETA = {"Authorization": "Bearer beta-dev-token"}
ADMIN = {"Authorization": "Bearer admin-dev-token"}
SINGLE = {  # ts-002-start-run.sh
    "algorithm": "intent-classification",
    "dataset_id": "1",
    "name": "test1",
    "train_data_version_hash": "hashBA==",
    "output_model_name": "my-intent-classification-model",
    "parameters": {"LR": "4", "EPOCHS": "15", "BATCH_SIZE": "64", "FC_SIZE": "128"},
}
PARALLEL = {  # ts-004-start-parallel-run.sh
    **SINGLE,
    "name": "test-parallel",
    "train_data_version_hash": "hashDg==",
    "output_model_name": "my-parallel-intent-classification-model",
    "parameters": {
        "LR": "4",
        "EPOCHS": "10",
        "BATCH_SIZE": "64",
        "PARALLEL_INSTANCES": "3",
        "FC_SIZE": "128",
    },
}


def train(client, metadata, headers=ALPHA) -> int:
    response = client.post("/v1/train", json={"metadata": metadata}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert list(response.get_json()) == ["job_id"]
    return response.get_json()["job_id"]


def status(client, job_id, headers=ALPHA):
    response = client.post("/v1/train/status", json={"job_id": job_id}, headers=headers)
    by_path = client.get(f"/v1/train/{job_id}/status", headers=headers)
    assert response.status_code == by_path.status_code
    assert response.get_json() == by_path.get_json()
    return response


def test_train_queues_with_sequential_ids_and_positions(client):
    ids = [train(client, SINGLE), train(client, PARALLEL), train(client, SINGLE)]
    assert ids == [1, 2, 3]
    for position, job_id in enumerate(ids):
        for as_sent in (job_id, str(job_id)):  # grpcurl sends "1"
            answer = status(client, as_sent).get_json()
            assert answer == {
                "status": "queuing",
                "job_id": job_id,
                "message": f"Queueing, there are {position} training jobs waiting before this.",
                "metadata": PARALLEL if job_id == 2 else SINGLE,
                "positionInQueue": position,
            }

    # Cancelling the head (through the native API) moves the others up and reads as failure.
    assert client.delete("/v1/teams/alpha/jobs/1", headers=ALPHA).status_code == 202
    cancelled = status(client, 1).get_json()
    assert cancelled["status"] == "failure" and cancelled["message"] == "cancelled by team alpha"
    assert cancelled["positionInQueue"] == 0
    assert [status(client, i).get_json()["positionInQueue"] for i in (2, 3)] == [0, 1]


def test_the_job_behind_a_train_request(client):
    job_id = train(client, PARALLEL)
    record = client.get(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA).get_json()
    spec = record["spec"]
    assert record["name"] == "test-parallel" and spec["workers"] == 2
    assert spec["image"] == "ghcr.io/trainq/intent-classification:0.1.0"
    assert spec["algorithm"] == {"name": "intent-classification", "version": "0.1.0"}
    assert spec["command"] == ["python", "-m", "trainers.intent_classification"]
    assert spec["dataset"] == {"id": "1", "version_hash": "hashDg=="}
    assert spec["env"] == {
        **PARALLEL["parameters"],
        "ALGORITHM_NAME": "intent-classification",
        "MODEL_NAME": "my-parallel-intent-classification-model",
    }
    assert spec["train_metadata"] == PARALLEL


def test_status_is_scoped_to_the_token_team(client):
    job_id = train(client, SINGLE)
    other = status(client, job_id, headers=BETA)
    assert other.status_code == 404 and other.mimetype == "application/problem+json"
    assert other.get_json()["detail"] == f"Job {job_id} doesn't exist"
    assert status(client, job_id, headers=ADMIN).get_json()["job_id"] == job_id
    missing = status(client, 99)
    assert missing.status_code == 404 and missing.get_json()["detail"] == "Job 99 doesn't exist"
    absent = client.post("/v1/train/status", json={}, headers=ALPHA)  # proto3: job_id 0
    assert absent.status_code == 404 and absent.get_json()["detail"] == "Job 0 doesn't exist"
    beta_job = train(client, SINGLE, headers=BETA)
    assert beta_job == job_id + 1  # one id sequence across teams
    assert status(client, beta_job, headers=BETA).get_json()["positionInQueue"] == 0


def test_unknown_algorithm_is_422_and_takes_no_id(client):
    response = client.post(
        "/v1/train", json={"metadata": {**SINGLE, "algorithm": "nope"}}, headers=ALPHA
    )
    assert response.status_code == 422
    assert response.get_json()["detail"].startswith('Algorithm "nope" is not registered')
    assert train(client, SINGLE) == 1


def test_a_job_that_can_never_be_admitted_is_422_like_job_submission(client):
    """/v1/train submits through the same use case as /v1/teams/{team}/jobs: 5 instances of
    1 cpu can never fit team local's quota of 4 cpus, so nothing is queued."""
    local = {"Authorization": "Bearer local-dev-token"}
    too_big = {**SINGLE, "parameters": {**SINGLE["parameters"], "PARALLEL_INSTANCES": "5"}}
    response = client.post("/v1/train", json={"metadata": too_big}, headers=local)
    assert response.status_code == 422, response.get_json()
    body = response.get_json()
    assert body["detail"].startswith("The job can never be admitted")
    assert {e["field"] for e in body["errors"]} == {"parameters.PARALLEL_INSTANCES"}
    assert "team local's quota" in body["errors"][0]["message"]
    assert train(client, SINGLE, headers=local) == 1  # took no id
