"""A submission's dry run on a real Redis (Flask test client; no cluster, no workers): it
answers where the job would land, validates exactly as a submission does, and leaves Redis
exactly as it was (every key's content compared; no job id taken)."""

import pytest
import redis

from wrapper.admission.store import AdmissionStore
from wrapper.api.schemas import DryRun

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
GI = 2**30
JOB = {"name": "resnet", "image": "docker.io/library/busybox:1.36"}
TRAIN = {"metadata": {"algorithm": "intent-classification", "dataset_id": "1", "name": "t",
                      "train_data_version_hash": "hashBA==", "output_model_name": "m"}}  # fmt: skip
JOBS, DRY = "/v1/teams/alpha/jobs", "/v1/teams/alpha/jobs?dry_run=true"


def kwok(name: str) -> dict:
    """A free node as the watcher caches it: 32 cpu, 256Gi, 8 gpus."""
    zero = {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}
    return {"name": name, "labels": {}, "taints": [], "cpu": 32_000, "memory": 256 * GI,
            "gpu": 8, "pods": 110, "used": zero}  # fmt: skip


@pytest.fixture
def r(scratch_url):
    return redis.Redis.from_url(scratch_url)


def contents(r) -> dict[bytes, bytes]:
    """Every key and its serialized value (a TTL counting down is not a change)."""
    return {key: r.dump(key) for key in r.scan_iter()}


def gpus(n: int, workers: int = 0, priority: int = 0) -> dict:
    resources = {"cpu": "1", "memory": "2Gi", "gpu": n}
    return {**JOB, "resources": resources, "workers": workers, "priority": priority}


def dry_run(client, path, body, headers=ALPHA) -> dict:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code == 200, response.get_json()
    return DryRun.model_validate(response.get_json()).model_dump()  # the documented shape


def test_dry_run_answers_where_it_would_land_and_writes_nothing(app, client, r):
    """alpha (12 gpu quota) queues 8 + 4 gpus: both admissible now, quota used up. A 2-gpu
    job behind them waits for quota; the same job at priority 10 goes first, on a node."""
    AdmissionStore(app.extensions["trainq"].store, app.extensions["trainq"].config).write_nodes(
        [kwok("kwok-1"), kwok("kwok-2")], {}
    )
    ids = [client.post(JOBS, json=body, headers=ALPHA).get_json()["id"]
           for body in (gpus(4, workers=1), gpus(4))]  # fmt: skip
    before = contents(r)
    waits = dry_run(client, DRY, gpus(2))
    assert waits == {
        "team": "alpha", "admissible_now": False, "position": 2, "global_position": 2,
        "pending_reason": "WaitingForQuota", "message": "needs 2 gpu; team alpha uses 12 of 12",
        "eta_seconds": None, "placement": [],
        "demand": {"cpu": "1", "memory": "2Gi", "gpu": 2}, "replicas": 1,
    }  # fmt: skip
    first = dry_run(client, DRY, gpus(2, workers=1, priority=10))
    assert first["admissible_now"] and first["pending_reason"] is None
    assert (first["position"], first["replicas"]) == (0, 2)
    assert len(first["placement"]) == 2 and set(first["placement"]) <= {"kwok-1", "kwok-2"}
    assert contents(r) == before  # not one key added, removed or changed
    queue = client.get("/v1/teams/alpha/queue", headers=ALPHA).get_json()
    assert [j["id"] for j in queue["jobs"]] == ids
    nxt = client.post(JOBS, json=gpus(2), headers=ALPHA).get_json()
    assert nxt["id"] == ids[-1] + 1  # no id was taken


def test_dry_run_on_a_fresh_redis_takes_no_id_and_ignores_the_idempotency_key(client, r):
    before = contents(r)
    keyed = {**ALPHA, "Idempotency-Key": "nightly"}
    found = dry_run(client, DRY, JOB, keyed)
    # The nodes are not known: nothing is admissible yet, and no node is named.
    assert found["pending_reason"] == "WaitingForCapacity" and found["placement"] == []
    assert contents(r) == before
    assert client.post(f"{JOBS}?dry_run=false", json=JOB, headers=ALPHA).get_json()["id"] == 1
    # The dry run left no idempotency record: the key is free for another body.
    real = client.post(JOBS, json={**JOB, "name": "other"}, headers=keyed)
    assert real.status_code == 202 and real.get_json()["id"] == 2
    assert dry_run(client, DRY, JOB, keyed)["position"] == 2  # the key is ignored, not replayed


def test_dry_run_through_train_answers_the_same_and_takes_no_id(client, r):
    before = contents(r)
    found = dry_run(client, "/v1/train?dry_run=true", TRAIN)
    assert found["team"] == "alpha" and found["replicas"] == 1 and found["position"] == 0
    assert contents(r) == before
    response = client.post("/v1/train", json=TRAIN, headers=ALPHA)
    assert response.get_json() == {"job_id": 1}
    parallel = {"metadata": {**TRAIN["metadata"], "parameters": {"PARALLEL_INSTANCES": "3"}}}
    assert dry_run(client, "/v1/train?dry_run=true", parallel)["replicas"] == 3


REFUSED = [
    (JOBS, {"name": "x", "algorithm": "nope"}),  # unknown algorithm: 422
    (JOBS, gpus(8, workers=2)),  # 24 gpus never fit alpha's quota of 12: 422
    ("/v1/train", {"metadata": {**TRAIN["metadata"], "algorithm": "nope"}}),  # 422
    # PARALLEL_INSTANCES past limits.max_workers + 1: 400 in the seed's words
    ("/v1/train", {"metadata": {**TRAIN["metadata"], "parameters": {"PARALLEL_INSTANCES": "34"}}}),
]


@pytest.mark.parametrize(("path", "body"), REFUSED)
def test_dry_run_refuses_what_a_submission_refuses(client, r, path, body):
    before = contents(r)
    real = client.post(path, json=body, headers=ALPHA)
    assert real.status_code in (400, 422)
    dry = client.post(f"{path}?dry_run=true", json=body, headers=ALPHA)
    assert (dry.status_code, dry.get_json()) == (real.status_code, real.get_json())
    assert contents(r) == before
