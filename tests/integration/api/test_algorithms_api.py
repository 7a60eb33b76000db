"""The algorithm registry on a real Redis (Flask test client; no cluster needed): start-up
registration (idempotent, also across concurrent processes), create / publish / read with the
version history, and jobs that name an algorithm resolving it at submission."""

import subprocess
import sys
import threading

import pytest
import redis

from wrapper.algorithms.registry import AlgorithmRegistry
from wrapper.api.app import create_app

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
BETA = {"Authorization": "Bearer beta-dev-token"}
ADMIN = {"Authorization": "Bearer admin-dev-token"}
IC = "intent-classification"
IMAGE = "ghcr.io/trainq/intent-classification"
CMD = ["python", "-m", "trainers.intent_classification"]


def test_start_up_registers_intent_classification(client):
    items = client.get("/v1/algorithms", headers=BETA).get_json()["items"]
    assert [(a["name"], a["version"], a["image_ref"]) for a in items] == [
        (IC, "0.1.0", f"{IMAGE}:0.1.0")
    ]
    assert "history" not in items[0]
    algo = client.get(f"/v1/algorithms/{IC}", headers=ALPHA).get_json()
    assert algo["command"] == CMD and algo["created_by"] == "config"
    (entry,) = algo["history"]
    assert entry["published_by"] == "config" and entry["published_at"] == algo["created_at"]


def test_start_up_registration_is_idempotent_across_processes(
    local_config, api_settings, scratch_url
):
    """Six API processes start at once on an empty registry: one record, one version."""
    code = (
        "import sys; from wrapper.api.app import create_app; from wrapper.config import Settings, "
        "load_config; c = load_config(sys.argv[1]); "
        "create_app(c, Settings(sys.argv[1], sys.argv[2], None))"
    )
    config_path = api_settings(scratch_url).config_path
    procs = [
        subprocess.Popen([sys.executable, "-c", code, config_path, scratch_url]) for _ in range(6)
    ]
    assert [p.wait(60) for p in procs] == [0] * 6
    client = create_app(local_config, api_settings(scratch_url)).test_client()
    algo = client.get(f"/v1/algorithms/{IC}", headers=ALPHA).get_json()
    assert len(algo["history"]) == 1 and algo["version"] == "0.1.0"

    # An admin publishes 0.2.0; a restart with the configured 0.1.0 must not roll it back.
    body = {"image": IMAGE, "version": "0.2.0"}
    assert client.put(f"/v1/algorithms/{IC}", json=body, headers=ADMIN).status_code == 200
    restarted = create_app(local_config, api_settings(scratch_url)).test_client()
    algo = restarted.get(f"/v1/algorithms/{IC}", headers=ALPHA).get_json()
    assert algo["version"] == "0.2.0" and len(algo["history"]) == 2


def test_concurrent_registrations_in_threads(local_config, scratch_url):
    """Many registries racing on the same record (WATCH/MULTI): still one version."""
    barrier = threading.Barrier(8)
    failures = []

    def register():
        registry = AlgorithmRegistry(redis.Redis.from_url(scratch_url), local_config.algorithms)
        barrier.wait()
        try:
            registry.register_configured()
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=register) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not failures
    algo = AlgorithmRegistry(redis.Redis.from_url(scratch_url)).get(IC)
    assert len(algo["history"]) == 1


def test_create_publish_and_read_with_history(client):
    body = {
        "name": "resnet",
        "image": "docker.io/trainq/resnet",
        "version": "1.0",
        "description": "ResNet-50",
        "command": ["torchrun", "train.py"],
    }
    created = client.post("/v1/algorithms", json=body, headers=ADMIN)
    assert created.status_code == 201, created.get_json()
    assert created.headers["Location"] == "/v1/algorithms/resnet"
    rec = created.get_json()
    assert rec["created_by"] == "admin" and rec["image_ref"] == "docker.io/trainq/resnet:1.0"
    again = client.post("/v1/algorithms", json=body, headers=ADMIN)
    assert again.status_code == 409 and "PUT /v1/algorithms/resnet" in again.get_json()["detail"]

    update = {"image": "docker.io/trainq/resnet", "version": "1.1"}
    published = client.put("/v1/algorithms/resnet", json=update, headers=ADMIN)
    assert published.status_code == 200, published.get_json()
    rec = published.get_json()
    assert rec["version"] == "1.1" and rec["command"] == ["torchrun", "train.py"]  # inherited
    assert [(e["version"], e["published_by"]) for e in rec["history"]] == [
        ("1.0", "admin"),
        ("1.1", "admin"),
    ]
    assert rec["updated_at"] == rec["history"][-1]["published_at"] >= rec["created_at"]

    # A repeat changes nothing; a published version cannot change its image.
    repeat = client.put("/v1/algorithms/resnet", json=update, headers=ADMIN)
    assert repeat.status_code == 200 and repeat.get_json() == rec
    other = {"image": "docker.io/trainq/resnet-v2", "version": "1.0"}
    conflict = client.put("/v1/algorithms/resnet", json=other, headers=ADMIN)
    assert conflict.status_code == 409 and "1.0" in conflict.get_json()["detail"]

    # Reads: any valid token; list is by name, without history.
    listed = client.get("/v1/algorithms", headers=BETA).get_json()["items"]
    assert [a["name"] for a in listed] == [IC, "resnet"]
    assert client.get("/v1/algorithms/resnet", headers=BETA).get_json() == rec
    assert client.get("/v1/algorithms/nope", headers=ALPHA).status_code == 404
    assert client.put("/v1/algorithms/nope", json=update, headers=ADMIN).status_code == 404
    assert client.put("/v1/algorithms/resnet", json=update, headers=ALPHA).status_code == 403
    bad = client.post(
        "/v1/algorithms", json={**body, "name": "x", "image": "quay.io/x/y"}, headers=ADMIN
    )
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "image"


def test_a_job_resolves_its_algorithm_at_submission(client):
    job = {"name": "intent", "algorithm": IC, "env": {"EPOCHS": "2"}}
    first = client.post("/v1/teams/alpha/jobs", json=job, headers=ALPHA)
    assert first.status_code == 202, first.get_json()
    spec = first.get_json()["spec"]
    assert spec["image"] == f"{IMAGE}:0.1.0" and spec["command"] == CMD
    assert spec["algorithm"] == {"name": IC, "version": "0.1.0"}

    update = {"image": IMAGE, "version": "0.2.0"}
    assert client.put(f"/v1/algorithms/{IC}", json=update, headers=ADMIN).status_code == 200
    job_id = first.get_json()["id"]
    queued = client.get(f"/v1/teams/alpha/jobs/{job_id}", headers=ALPHA).get_json()
    assert queued["status"] == "queued" and queued["spec"] == spec  # unchanged
    second = client.post("/v1/teams/alpha/jobs", json={**job, "command": ["sh"]}, headers=ALPHA)
    spec2 = second.get_json()["spec"]
    assert spec2["image"] == f"{IMAGE}:0.2.0" and spec2["command"] == ["sh"]
    assert spec2["algorithm"] == {"name": IC, "version": "0.2.0"}

    unknown = client.post("/v1/teams/alpha/jobs", json={**job, "algorithm": "nope"}, headers=ALPHA)
    assert unknown.status_code == 422
    assert unknown.get_json()["errors"] == [
        {"field": "algorithm", "message": "unknown algorithm 'nope'"}
    ]
    plain = client.post(
        "/v1/teams/alpha/jobs", json={"name": "p", "image": "docker.io/a/b:1"}, headers=ALPHA
    )
    assert plain.status_code == 202 and "algorithm" not in plain.get_json()["spec"]
