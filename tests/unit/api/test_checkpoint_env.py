"""CHECKPOINT_DIR belongs to trainq for a team with a checkpoint claim (it names the job's own
directory on the claim, mounted in every replica): refused with a 422 naming the field on the
job API and a 400 on the MiniAutoML surface; a team without a claim may still set it."""

import pydantic
import pytest

from tests.unit.conftest import ALPHA
from wrapper.api.errors import field_errors
from wrapper.api.schemas import JobRequest

LOCAL = {"Authorization": "Bearer local-dev-token"}
BODY = {"name": "resnet", "image": "docker.io/library/busybox:1.36",
        "env": {"CHECKPOINT_DIR": "/mine", "LR": "0.1"}}  # fmt: skip


def test_the_local_config_gives_team_local_a_claim(config):
    assert config.team("local").checkpoints.claim == "trainq-checkpoints"
    assert config.team("alpha").checkpoints is None


def test_refused_for_a_team_with_a_claim(config):
    with pytest.raises(pydantic.ValidationError) as exc:
        JobRequest.model_validate(BODY, context={"config": config, "team": "local"})
    (error,) = field_errors(exc.value)
    assert error["field"] == "env.CHECKPOINT_DIR"
    assert "team local's checkpoint claim" in error["message"]


def test_allowed_for_a_team_without_one(config):
    for context in ({"config": config, "team": "alpha"}, {"config": config}):
        req = JobRequest.model_validate(BODY, context=context)
        assert req.env["CHECKPOINT_DIR"] == "/mine"


def test_over_http_a_422_problem_naming_the_field(client):
    r = client.post("/v1/teams/local/jobs", json=BODY, headers=LOCAL)
    assert r.status_code == 422 and r.mimetype == "application/problem+json"
    assert [e["field"] for e in r.get_json()["errors"]] == ["env.CHECKPOINT_DIR"]
    # Team alpha's request passes validation and goes on to Redis (unreachable here: 503).
    assert client.post("/v1/teams/alpha/jobs", json=BODY, headers=ALPHA).status_code == 503


def test_train_parameters_cannot_set_it_either(client):
    body = {"metadata": {"algorithm": "intent-classification", "datasetId": "d",
                         "trainDataVersionHash": "h", "outputModelName": "m",
                         "parameters": {"CHECKPOINT_DIR": "/mine"}}}  # fmt: skip
    r = client.post("/v1/train", json=body, headers=LOCAL)
    assert r.status_code == 400
    assert r.get_json()["errors"][0]["field"] == "parameters.CHECKPOINT_DIR"
    assert r.get_json()["detail"].startswith('"parameters.CHECKPOINT_DIR": CHECKPOINT_DIR cannot')
