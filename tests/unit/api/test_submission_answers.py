"""What both submission surfaces answer when the job store refuses (the store's behaviour is
tested against a real Redis in tests/integration/api): a team cap is a 429 problem naming the
cap, with Retry-After; Redis at maxmemory is a 503 saying nothing changed; a submission whose
outcome could not be learnt is a 503 that says so (never "nothing was changed")."""

import pytest
import redis

from tests.unit.api.test_offline import assert_problem
from tests.unit.conftest import ALPHA
from wrapper.api import jobs, train
from wrapper.jobs.store import OutcomeUnknown, SubmissionLimited

JOB = {"name": "resnet", "image": "docker.io/library/busybox:1.36"}
TRAIN = {"metadata": {"algorithm": "intent-classification", "dataset_id": "d",
                      "train_data_version_hash": "h", "output_model_name": "m"}}  # fmt: skip
SURFACES = [("/v1/teams/alpha/jobs", JOB, jobs), ("/v1/train", TRAIN, train)]


def refusing(monkeypatch, module, exc):
    def submit(*args, **kwargs):
        raise exc

    monkeypatch.setattr(module, "submit", submit)


@pytest.mark.parametrize(("path", "body", "module"), SURFACES)
@pytest.mark.parametrize(
    ("exc", "named", "retry_after"),
    [(SubmissionLimited("max_queued_jobs", 3, 30), "submissions.max_queued_jobs", "30"),
     (SubmissionLimited("per_minute", 1.5, 7), "submissions.per_minute", "7")],
)  # fmt: skip
def test_a_team_cap_is_429_naming_it_with_retry_after(
    client, monkeypatch, path, body, module, exc, named, retry_after
):
    refusing(monkeypatch, module, exc)
    response = client.post(path, json=body, headers=ALPHA)
    problem = assert_problem(response, 429)
    assert response.headers["Retry-After"] == retry_after
    assert named in problem["detail"] and "nothing was queued" in problem["detail"]
    assert problem["errors"] == [{"field": named, "message": "limit reached"}]


@pytest.mark.parametrize(("path", "body", "module"), SURFACES)
def test_redis_at_maxmemory_is_a_clear_503(client, monkeypatch, path, body, module):
    oom = redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'")
    refusing(monkeypatch, module, oom)
    problem = assert_problem(client.post(path, json=body, headers=ALPHA), 503)
    assert "maxmemory" in problem["detail"] and "nothing was changed" in problem["detail"]


@pytest.mark.parametrize(("path", "body", "module"), SURFACES)
def test_an_unknown_outcome_is_never_called_nothing_changed(client, monkeypatch, path, body,
                                                           module):  # fmt: skip
    refusing(monkeypatch, module, OutcomeUnknown("Timeout reading from socket"))
    problem = assert_problem(client.post(path, json=body, headers=ALPHA), 503)
    assert "unknown" in problem["detail"] and "nothing was changed" not in problem["detail"]
    assert "Idempotency-Key" in problem["detail"]
