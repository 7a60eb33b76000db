"""Redis at `maxmemory` (noeviction): a write it refuses is a clear 503 on both submission
surfaces, with nothing half-written (the scripts read before their first write, and Redis
refuses a script's first write, never a later one); the store's memory gauge shows it coming.
A private redis-server: maxmemory is changed here."""

import pytest
import redis

from wrapper.api.app import create_app
from wrapper.api.metrics import StoreCollector
from wrapper.jobs import retention, storage
from wrapper.jobs.states import JobStatus
from wrapper.redis import keys

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
JOB = {"name": "full", "image": "docker.io/library/busybox"}
TRAIN = {"metadata": {"algorithm": "intent-classification", "dataset_id": "d",
                      "train_data_version_hash": "h", "output_model_name": "m"}}  # fmt: skip


def everything(r: redis.Redis) -> dict:
    return {k: r.dump(k) for k in r.scan_iter("*")}


def test_maxmemory_reached_is_a_clear_503_and_writes_nothing(private_redis, local_config,
                                                             api_settings):  # fmt: skip
    client = create_app(local_config, api_settings(private_redis.url)).test_client()
    assert client.post("/v1/teams/alpha/jobs", json=JOB, headers=ALPHA).status_code == 202
    r = redis.Redis.from_url(private_redis.url)
    use = storage.memory_use(r)
    assert use.used_bytes > 0 and use.max_bytes == 0  # no maxmemory: the gauge says so

    r.config_set("maxmemory", "1")  # below what it holds: every growing write is refused
    assert storage.memory_use(r).max_bytes == 1
    gauges = {f.name: f.samples[0].value for f in StoreCollector(r).collect()}
    assert gauges["trainq_redis_memory_max_bytes"] == 1
    assert gauges["trainq_redis_memory_used_ratio"] > 1  # what an alert fires on, below 1
    assert gauges["trainq_redis_memory_used_bytes"] > 0
    before = everything(r)
    for path, body in (("/v1/teams/alpha/jobs", JOB), ("/v1/train", TRAIN)):
        response = client.post(path, json=body, headers=ALPHA)
        assert response.status_code == 503, response.get_data(as_text=True)
        problem = response.get_json()
        assert "maxmemory" in problem["detail"] and "nothing was changed" in problem["detail"]
        assert response.headers["Retry-After"]
    assert everything(r) == before
    assert int(r.get(keys.JOB_ID_COUNTER)) == 1

    r.config_set("maxmemory", "0")
    assert client.post("/v1/teams/alpha/jobs", json=JOB, headers=ALPHA).status_code == 202


def test_retention_still_frees_memory_when_redis_is_full(private_redis, local_config,
                                                         api_settings):  # fmt: skip
    app = create_app(local_config, api_settings(private_redis.url))
    store = app.extensions["trainq"].store
    response = app.test_client().post("/v1/teams/alpha/jobs", json=JOB, headers=ALPHA)
    job_id = response.get_json()["id"]
    assert store.transition(job_id, JobStatus.CANCELLED, {"reason": "Cancelled"}).applied
    r = redis.Redis.from_url(private_redis.url)
    r.config_set("maxmemory", "1")
    retention.pytorchjob_deleted(store, job_id)  # its first write never grows memory
    assert retention.forget(store, job_id, store.get(job_id)) == "forgotten"
    assert store.get(job_id) is None and r.zcard(keys.FINISHED_JOBS) == 0
    r.config_set("maxmemory", "0")
