"""Status reads of jobs past their queue come from the API process's cache, kept coherent by
Redis's client-side caching protocol (wrapper.redis.tracking), on a private real Redis (the
shared one's other tests would invalidate keys of the same names). What matters: a read never
shows less than Redis holds once a write was acknowledged, from any process, and the cache
stands aside while it cannot hear Redis."""

import json

import pytest
import redis

from tests.support import LOCAL_CONFIG, wait_until
from tests.support.admit import admit_next
from tests.support.sentinel import SentinelRedis, wait_for_failover
from wrapper.api.app import create_app
from wrapper.config import Settings
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import keys
from wrapper.redis.tracking import TrackedCache

pytestmark = pytest.mark.integration
ALPHA = {"Authorization": "Bearer alpha-dev-token"}
JOBS = "/v1/teams/alpha/jobs"


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def api(private_redis, local_config, api_settings):
    app = create_app(local_config, api_settings(private_redis.url))
    return app.test_client(), app.extensions["trainq"]


def _dispatched(client, svc, local_config) -> int:
    body = {"name": "polled", "image": "docker.io/library/busybox"}
    job_id = client.post(JOBS, json=body, headers=ALPHA).get_json()["id"]
    assert admit_next(svc.store, local_config, "alpha", lease_seconds=30) == ("alpha", job_id)
    ref = {"namespace": "team-alpha", "name": f"tq-{job_id}"}
    assert svc.store.transition(job_id, JobStatus.CREATED, {"pytorchjob": ref}).applied
    return job_id


def _other_process(private_redis) -> JobStore:
    """A store on its own connection, as the watcher or a worker writes."""
    return JobStore(redis.Redis.from_url(private_redis.url), ["alpha", "beta"])


def test_a_polled_job_is_served_from_cache_and_shows_each_write_at_once(
    api, local_config, private_redis
):
    client, svc = api
    job_id = _dispatched(client, svc, local_config)
    watcher = _other_process(private_redis)
    url = f"{JOBS}/{job_id}"
    assert client.get(url, headers=ALPHA).get_json()["status"] == "created"
    hits = svc.status_reads.cache.hits
    assert client.get(url, headers=ALPHA).get_json()["status"] == "created"
    assert svc.status_reads.cache.hits == hits + 1  # the second read did not go to Redis
    assert watcher.transition(job_id, JobStatus.RUNNING, {"message": "m0"}).applied
    for i in range(1, 40):
        # What the other process just wrote is what the next read shows: no wait, no retry.
        assert client.get(url, headers=ALPHA).get_json()["message"] == f"m{i - 1}"
        assert client.get(url, headers=ALPHA).get_json()["status"] == "running"
        assert watcher.transition(job_id, JobStatus.RUNNING, {"message": f"m{i}"}).applied
    assert client.get(url, headers=ALPHA).get_json()["message"] == "m39"
    assert svc.status_reads.cache.hits >= hits + 39  # each write cost one read from Redis, no more
    # A raw write, outside any store or script, is seen too.
    watcher.redis.hset(keys.job_key(job_id), "message", json.dumps("raw"))
    assert client.get(url, headers=ALPHA).get_json()["message"] == "raw"
    # Another team still gets a 404 for it, cached or not.
    beta = {"Authorization": "Bearer beta-dev-token"}
    assert client.get(f"/v1/teams/beta/jobs/{job_id}", headers=beta).status_code == 404


def test_deleted_and_flushed_records_are_gone_at_once(api, local_config, private_redis):
    client, svc = api
    job_id = _dispatched(client, svc, local_config)
    url = f"{JOBS}/{job_id}"
    other = redis.Redis.from_url(private_redis.url)
    for _ in range(2):
        assert client.get(url, headers=ALPHA).status_code == 200
    other.delete(keys.job_key(job_id))
    assert client.get(url, headers=ALPHA).status_code == 404
    second = _dispatched(client, svc, local_config)
    for _ in range(2):
        assert client.get(f"{JOBS}/{second}", headers=ALPHA).status_code == 200
    other.flushdb()
    assert client.get(f"{JOBS}/{second}", headers=ALPHA).status_code == 404


def test_a_queued_job_is_read_from_redis_each_time(api):
    # Its answer (place, reason, ETA) depends on every queue, not on its own record.
    client, svc = api
    body = {"name": "waiting", "image": "docker.io/library/busybox"}
    job_id = client.post(JOBS, json=body, headers=ALPHA).get_json()["id"]
    hits = svc.status_reads.cache.hits
    for _ in range(3):
        assert client.get(f"{JOBS}/{job_id}", headers=ALPHA).get_json()["status"] == "queued"
    assert svc.status_reads.cache.hits == hits


def test_without_its_invalidation_connection_the_cache_stands_aside(
    api, local_config, private_redis
):
    client, svc = api
    cache = svc.status_reads.cache
    clock = cache.clock = Clock()
    job_id = _dispatched(client, svc, local_config)
    url = f"{JOBS}/{job_id}"
    other = _other_process(private_redis)
    for _ in range(2):
        client.get(url, headers=ALPHA)
    tracking_ids = [c["id"] for c in other.redis.client_list() if c.get("cmd") == "subscribe"]
    assert len(tracking_ids) == 1
    other.redis.client_kill_filter(_id=tracking_ids[0])
    # The kill reaches the connection before any invalidation could: this write is unheard.
    assert other.transition(job_id, JobStatus.RUNNING, {"message": "unheard"}).applied
    hits = cache.hits
    for _ in range(3):  # from Redis, not from the cache, until a connection is back
        assert client.get(url, headers=ALPHA).get_json()["message"] == "unheard"
    assert cache.hits == hits
    clock.now += 1.5  # past the reconnection back-off
    client.get(url, headers=ALPHA)
    assert client.get(url, headers=ALPHA).get_json()["message"] == "unheard"
    assert cache.hits == hits + 1
    assert other.transition(job_id, JobStatus.RUNNING, {"message": "heard"}).applied
    assert client.get(url, headers=ALPHA).get_json()["message"] == "heard"


def test_a_redis_restart_is_read_through_not_served_stale(api, local_config, private_redis):
    client, svc = api
    job_id = _dispatched(client, svc, local_config)
    url = f"{JOBS}/{job_id}"
    for _ in range(2):
        assert client.get(url, headers=ALPHA).status_code == 200
    private_redis.crash()
    assert client.get(url, headers=ALPHA).status_code == 503  # not the cached answer
    private_redis.start()
    assert client.get(url, headers=ALPHA).get_json()["status"] == "created"


def test_a_value_read_while_its_key_changes_is_not_kept(private_redis):
    client = redis.Redis.from_url(private_redis.url)
    cache = TrackedCache(client, "trainq:job:")
    key = keys.job_key(7)
    client.hset(key, "v", "1")

    def racing_load():  # another process's write lands between the read and the keeping
        value = client.hget(key, "v")
        redis.Redis.from_url(private_redis.url).hset(key, "v", "2")
        return value

    assert cache.read(key, racing_load, lambda v: True) == b"1"
    assert cache.read(key, lambda: client.hget(key, "v"), lambda v: True) == b"2"
    assert cache.misses == 2  # the value read in the race was not kept
    assert cache.read(key, lambda: pytest.fail("cached"), lambda v: True) == b"2"


def test_entries_expire_and_the_cache_is_bounded(private_redis):
    client = redis.Redis.from_url(private_redis.url)
    clock = Clock()
    cache = TrackedCache(client, "trainq:job:", max_entries=3, max_age=2.0, clock=clock)
    for i in range(3):
        assert cache.read(f"trainq:job:{i}", lambda i=i: i, lambda v: True) == i
    assert cache.read("trainq:job:0", lambda: pytest.fail("cached"), lambda v: True) == 0
    clock.now += 2.0
    assert cache.read("trainq:job:0", lambda: "again", lambda v: True) == "again"
    for i in range(3, 6):
        cache.read(f"trainq:job:{i}", lambda i=i: i, lambda v: True)
    assert len(cache._entries) <= 3


def test_after_a_sentinel_failover_the_cache_follows_the_new_primary(tmp_path, local_config):
    """A planned failover (SENTINEL FAILOVER). Until Sentinel turns the old primary into a
    replica (and closes its clients), the API's own Redis client still reads the old one: a
    cached answer must never differ from what that client reads. Once it has, the tracking
    connection is made again on the new primary and its writes reach the answers at once."""
    cluster = SentinelRedis(tmp_path / "redis")
    try:
        cluster.start()
        settings = Settings(str(LOCAL_CONFIG), cluster.url, None,
                            redis_sentinels=tuple(cluster.env["REDIS_SENTINELS"].split(",")),
                            redis_sentinel_master=cluster.env["REDIS_SENTINEL_MASTER"])  # fmt: skip
        app = create_app(local_config, settings)
        client, svc = app.test_client(), app.extensions["trainq"]
        job_id = _dispatched(client, svc, local_config)
        url = f"{JOBS}/{job_id}"
        for _ in range(2):
            assert client.get(url, headers=ALPHA).get_json()["status"] == "created"
        old = cluster.primary_port()
        cluster.client_at(cluster.sentinel_ports[0]).execute_command(
            "SENTINEL", "FAILOVER", cluster.env["REDIS_SENTINEL_MASTER"]
        )
        primary = cluster.client_at(wait_for_failover(cluster, old))
        primary.hset(keys.job_key(job_id), "message", json.dumps("after failover"))

        def followed():
            direct = svc.store.get(job_id)["message"]  # the API's own client, just before
            answer = client.get(url, headers=ALPHA).get_json()["message"]
            assert answer == "after failover" or direct != "after failover"  # never behind it
            return answer == "after failover"

        wait_until("the API to follow the new primary", followed, timeout=60)
        wait_until(
            "the old primary to be a replica",
            lambda: cluster.client_at(old).info("replication")["role"] == "slave",
            30,
        )
        hits = svc.status_reads.cache.hits
        for i in range(5):
            primary.hset(keys.job_key(job_id), "message", json.dumps(f"on the new primary {i}"))
            answer = client.get(url, headers=ALPHA).get_json()
            assert answer["message"] == f"on the new primary {i}"  # at once, every time
            assert client.get(url, headers=ALPHA).get_json()["message"] == answer["message"]
        assert svc.status_reads.cache.hits >= hits + 5  # the cache is in use again
    finally:
        cluster.stop()
