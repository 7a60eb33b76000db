"""Training metrics through the API on a real Redis (a scratch DB; no cluster): a job's own
metrics token appends its metrics while it runs and nothing else (another job, another team,
a team token, after the end: refused); the per-job bounds (1,000 points, 10 reports/s) hold
atomically in Redis; the metrics and runs endpoints answer with the series, the final values and
what made each run; bad sort keys and another team's job are refused."""

import pytest

from tests.support.admit import admit_next
from wrapper.api.app import create_app
from wrapper.jobs.states import JobStatus
from wrapper.redis import keys
from wrapper.runs import reports, tokens

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
BETA = {"Authorization": "Bearer beta-dev-token"}


@pytest.fixture
def app(local_config, api_settings, scratch_url):
    return create_app(local_config, api_settings(scratch_url))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["trainq"].store


def job(client, store, config, name="r", env=None, dataset="intents", running=True) -> dict:
    body = {"name": name, "image": "docker.io/library/busybox:1.36", "command": ["true"],
            "env": env or {"LR": "0.1"},
            "dataset": {"id": dataset, "version_hash": "v1"}}  # fmt: skip
    job_id = client.post("/v1/teams/alpha/jobs", json=body, headers=ALPHA).get_json()["id"]
    if running:
        assert admit_next(store, config, "alpha", lease_seconds=30) == ("alpha", job_id)
        assert store.transition(job_id, JobStatus.RUNNING, {"pytorchjob": {
            "namespace": "team-alpha", "name": f"tq-{job_id}"}}).applied  # fmt: skip
    return store.get(job_id)


def post(client, record, body, token=None):
    auth = {"Authorization": f"Bearer {token or tokens.metrics_token(record)}"}
    return client.post(f"/v1/teams/alpha/jobs/{record['id']}/metrics", json=body, headers=auth)


def epoch(n, loss=0.5, acc=0.8):
    return {"epoch": n, "values": {"train_loss": loss, "val_accuracy": acc}}


def test_a_job_reports_and_the_team_reads_its_series_and_final(client, store, local_config):
    rec = job(client, store, local_config)
    assert post(client, rec, {"epochs": [epoch(1), epoch(2, 0.3, 0.9)]}).get_json() == {"points": 2}
    # A resumed trainer sends epoch 2 again: it replaces, it does not count twice.
    assert post(client, rec, {"epochs": [epoch(2, 0.25, 0.91)]}).get_json() == {"points": 2}
    final = {"test_accuracy": 0.93, "test_f1_macro": 0.9}
    r = post(client, rec, {"final": final, "weights_sha256": "ab" * 32,
                           "hyperparameters": {"lr": 0.1, "optimizer": "adam"}})  # fmt: skip
    assert r.status_code == 202, r.get_json()
    got = client.get(f"/v1/teams/alpha/jobs/{rec['id']}/metrics", headers=ALPHA).get_json()
    assert [p["epoch"] for p in got["epochs"]] == [1, 2]
    assert got["epochs"][1]["values"] == {"train_loss": 0.25, "val_accuracy": 0.91}
    assert got["final"] == final and got["weights_sha256"] == "ab" * 32
    assert got["hyperparameters"]["optimizer"] == "adam" and got["reported_at"].endswith("Z")
    assert got["status"] == "running" and got["non_finite_loss"] is None
    # Another team's job: 404 (never 403, nothing about it is revealed).
    assert client.get(f"/v1/teams/alpha/jobs/{rec['id']}/metrics", headers=BETA).status_code == 404
    assert client.get(f"/v1/teams/beta/jobs/{rec['id']}/metrics", headers=BETA).status_code == 404


def test_the_token_is_for_one_running_job_only(client, store, local_config):
    a, b = job(client, store, local_config, "a"), job(client, store, local_config, "b")
    assert post(client, a, {"epochs": [epoch(1)]}, token=tokens.metrics_token(b)).status_code == 401
    assert post(client, a, {"epochs": [epoch(1)]}, token="alpha-dev-token").status_code == 401
    auth = {"Authorization": f"Bearer {tokens.metrics_token(a)}"}
    other_team = client.post(f"/v1/teams/beta/jobs/{a['id']}/metrics", json={}, headers=auth)
    assert other_team.status_code == 401
    queued = job(client, store, local_config, "q", running=False)
    assert post(client, queued, {"epochs": [epoch(1)]}).status_code == 409
    store.transition(a["id"], JobStatus.SUCCEEDED, {"finished_at": "2026-01-01T00:00:00.000Z"})
    r = post(client, a, {"epochs": [epoch(1)]})
    assert r.status_code == 409 and "closed" in r.get_json()["detail"]


def test_bad_reports_name_the_field(client, store, local_config):
    rec = job(client, store, local_config)
    r = post(client, rec, {"epochs": [{"epoch": 1, "values": {"train_loss": "nan"}}]})
    assert r.status_code == 422
    assert r.get_json()["errors"][0]["field"] == "epochs[0].values.train_loss"
    r = post(client, rec, {"final": {"x": 1}, "weights_sha256": "nope"})
    assert [e["field"] for e in r.get_json()["errors"]] == ["weights_sha256"]
    big = {"epochs": [{"epoch": 1, "values": {"note_" + "x" * 50: 1.0}}], "pad": "x" * 70_000}
    assert post(client, rec, big).status_code == 413


def test_the_per_job_bounds_hold_in_redis(client, store, local_config):
    rec = job(client, store, local_config)
    # 1,000 points at most: 10 reports of 100 fill it (spread over seconds by the rate bound).
    store.redis.hset(keys.run_metrics(rec["id"]), "points", reports.MAX_POINTS_PER_JOB - 1)
    assert post(client, rec, {"epochs": [epoch(5000)]}).get_json() == {"points": 1000}
    r = post(client, rec, {"epochs": [epoch(5001)]})
    assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == "epochs"
    assert post(client, rec, {"epochs": [epoch(5000, 0.1)]}).status_code == 202  # a replacement
    # At most 10 reports a second: the 11th within one second is 429 with Retry-After.
    other = job(client, store, local_config, "rate")
    codes = [post(client, other, {"final": {"a": i}}).status_code for i in range(25)]
    assert 429 in codes and codes.count(202) <= 2 * reports.MAX_REPORTS_PER_SECOND, codes


def test_a_non_finite_loss_is_kept_for_the_alert(client, store, local_config):
    rec = job(client, store, local_config)
    post(client, rec, {"epochs": [epoch(1), {"epoch": 2, "values": {"train_loss": "NaN"}}]})
    got = client.get(f"/v1/teams/alpha/jobs/{rec['id']}/metrics", headers=ALPHA).get_json()
    assert got["epochs"][1]["values"]["train_loss"] == "NaN"
    assert got["non_finite_loss"] == {"epoch": 2, "metric": "train_loss", "value": "nan"}


def test_runs_compare_what_made_them_sorted_by_a_metric(client, store, local_config):
    made = (("0.1", "intents"), ("0.01", "intents"), ("1", "other"), ("5", "intents"))
    runs = [job(client, store, local_config, f"lr-{i}", {"LR": lr}, dataset=d)
            for i, (lr, d) in enumerate(made)]  # fmt: skip
    for rec, acc in zip(runs[:3], (0.7, 0.95, 0.99), strict=True):
        post(client, rec, {"final": {"test_accuracy": acc}, "weights_sha256": "0" * 64})
    r = client.get("/v1/teams/alpha/runs?dataset_id=intents&sort=-test_accuracy", headers=ALPHA)
    got = r.get_json()
    assert [x["env"]["LR"] for x in got["items"]] == ["0.01", "0.1", "5"]  # unreported last
    first = got["items"][0]
    assert first["dataset"] == {"id": "intents", "version_hash": "v1"}
    assert first["image"] == "docker.io/library/busybox:1.36" and first["algorithm"] is None
    assert first["weights_sha256"] == "0" * 64 and got["scanned"] == 4
    asc = client.get("/v1/teams/alpha/runs?sort=test_accuracy&limit=2", headers=ALPHA).get_json()
    assert [x["final"]["test_accuracy"] for x in asc["items"]] == [0.7, 0.95]
    for query, field in (("sort=-test_acuracy", "sort"), ("limit=0", "limit"), ("x=1", "x")):
        r = client.get(f"/v1/teams/alpha/runs?{query}", headers=ALPHA)
        assert r.status_code == 422 and r.get_json()["errors"][0]["field"] == field, query
    assert client.get("/v1/teams/alpha/runs", headers=BETA).status_code == 404
    assert client.get("/v1/teams/beta/runs", headers=BETA).get_json()["items"] == []


def test_a_miniautoml_run_shows_its_algorithm_version_and_dataset(client):
    metadata = {"algorithm": "intent-classification", "dataset_id": "intents",
                "train_data_version_hash": "hash-7", "name": "seed-run",
                "output_model_name": "m", "parameters": {"LR": "0.05"}}  # fmt: skip
    r = client.post("/v1/train", json={"metadata": metadata}, headers=ALPHA)
    assert r.status_code == 200, r.get_json()
    got = client.get("/v1/teams/alpha/runs?algorithm=intent-classification", headers=ALPHA)
    (run,) = got.get_json()["items"]
    assert run["id"] == r.get_json()["job_id"]
    assert run["algorithm"] == {"name": "intent-classification", "version": "0.1.0"}
    assert run["image"] == "ghcr.io/trainq/intent-classification:0.1.0"
    assert run["dataset"] == {"id": "intents", "version_hash": "hash-7"}
    assert run["env"]["LR"] == "0.05" and run["final"] is None
    other = client.get("/v1/teams/alpha/runs?algorithm=other", headers=ALPHA).get_json()
    assert other["items"] == []
