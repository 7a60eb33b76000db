"""Redis failover under a stream of submissions (issue 16): trainq runs against a primary, a
replica and three sentinels (real processes, tests.support.sentinel) with
REDIS_MIN_REPLICAS_ACKED=1. The primary is SIGKILLed mid-stream, the sentinels promote the
replica, and the old primary comes back as the new one's replica (as a restarted pod would).
Clients retry 503s and connection errors with the same Idempotency-Key. Every job that got a
2xx must be in the new primary with its record, one job per key, and be dispatched to exactly
one PyTorchJob by a worker and watcher that followed the failover too."""

import threading
import time
from collections import Counter, defaultdict

import pytest
import requests

from tests.support import LOCAL_CONFIG, wait_until
from tests.support.sentinel import SentinelRedis, wait_for_failover
from tests.support.stack import Stack, job_body
from wrapper.api.app import create_app
from wrapper.config import Settings
from wrapper.redis import keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

BEFORE_KILL = 15  # acknowledged jobs before the primary dies
AFTER_RECOVERY = 15  # and after submissions are acknowledged again


class Stream(threading.Thread):
    """Submits job i with Idempotency-Key k-i until it is acknowledged, then job i+1."""

    def __init__(self, api, prefix: str):
        super().__init__(daemon=True)
        self.api, self.prefix = api, prefix
        self.acked: dict[str, set[int]] = defaultdict(set)  # key -> ids of its 2xx answers
        self.attempts: list[tuple[float, bool]] = []  # (time, acknowledged)
        self.stop = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            key = f"{self.prefix}-{i}"
            try:
                r = self.api.submit("alpha", job_body(key), **{"Idempotency-Key": key})
                ok = r.status_code in (200, 201, 202)
                assert ok or r.status_code == 503, r.text
            except requests.RequestException:
                ok = False
            self.attempts.append((time.monotonic(), ok))
            if ok:
                self.acked[key].add(r.json()["id"])
                i += 1
            time.sleep(0.05 if ok else 0.2)

    def acked_since(self, t: float) -> int:
        return sum(ok for at, ok in self.attempts if at >= t)

    def error_window(self) -> float:
        """From the last 2xx before the first failure to the first 2xx after the last one."""
        fails = [at for at, ok in self.attempts if not ok]
        if not fails:
            return 0.0
        before = max((at for at, ok in self.attempts if ok and at < fails[0]), default=fails[0])
        after = min(at for at, ok in self.attempts if ok and at > fails[-1])
        return after - before


def test_primary_killed_mid_stream_loses_no_acknowledged_job(tmp_path, kubeconfig, kube_api):
    cluster = SentinelRedis(tmp_path / "redis")
    stack = Stack(tmp_path / "stack", cluster.url, kubeconfig)
    stack.env.update(cluster.env, REDIS_MIN_REPLICAS_ACKED="1", REDIS_ACK_TIMEOUT_MS="500")
    try:
        cluster.start()
        api = stack.start_api()
        stack.start_worker("w1")
        stack.start_watcher()
        # Both serving before the fault, which is what this test is about.
        wait_until("worker and watcher up", lambda: "serving teams" in stack.log("w1")
                   and "leading" in stack.log("watcher"), 30)  # fmt: skip
        stream = Stream(api, stack.instance)
        stream.start()
        wait_until("acknowledged jobs", lambda: stream.acked_since(0) >= BEFORE_KILL, 30)

        old = cluster.primary_port()
        cluster.kill(cluster.name_of(old))
        killed_at = time.monotonic()
        new = wait_for_failover(cluster, old)
        failover_s = time.monotonic() - killed_at
        cluster.restart_as_replica(cluster.name_of(old), new)
        rejoined = cluster.client_at(old)

        def in_sync():
            return rejoined.info("replication")["master_link_status"] == "up"

        wait_until("the old primary in sync as a replica", in_sync, 20)
        rejoined_s = time.monotonic() - killed_at
        wait_until("acknowledgements again",
                   lambda: stream.acked_since(killed_at) >= AFTER_RECOVERY, 40)  # fmt: skip
        stream.stop.set()
        stream.join(15)
        # The worker process lives through it (RQ ends its loop on the ConnectionError of a
        # heartbeat; queue_workers.__main__.run starts serving again).
        assert stack.procs["w1"].poll() is None, stack.log("w1")[-3000:]

        # Every acknowledged job is in the new primary, once, with its record.
        primary = cluster.client_at(new)
        assert all(len(ids) == 1 for ids in stream.acked.values()), stream.acked
        acked = {key: next(iter(ids)) for key, ids in stream.acked.items()}
        for key, job_id in acked.items():
            record = primary.hgetall(keys.job_key(job_id))
            assert record, f"job {job_id} ({key}) acknowledged but lost in the failover"
            assert record[b"name"].decode().strip('"') == key
        names = Counter(
            primary.hget(k, "name").decode().strip('"')
            for k in primary.scan_iter(keys.job_key("*"))
        )
        assert not [n for n, c in names.items() if c > 1], "a retry queued a second job"

        # Each acknowledged job reaches exactly one PyTorchJob.
        def dispatched():
            jobs = stack.pytorchjobs("team-alpha")
            return jobs if len(jobs) >= len(acked) else None

        wait_until("every acknowledged job dispatched", dispatched, timeout=60, interval=1)
        time.sleep(2)  # a duplicate created late would show now
        per_id = Counter(
            int(j["metadata"]["labels"]["trainq.dev/job-id"])
            for j in stack.pytorchjobs("team-alpha")
        )
        assert all(per_id[job_id] == 1 for job_id in acked.values()), per_id
        assert max(per_id.values()) == 1, per_id
        print(f"\nredis failover: {len(acked)} acknowledged, 0 lost, failover "
              f"{failover_s:.1f}s, replica in sync {rejoined_s:.1f}s after the kill, "
              f"error window {stream.error_window():.1f}s, "
              f"{sum(not ok for _, ok in stream.attempts)} refused attempts, worker "
              f"loop restarts {stack.log('w1').count('serving again')}")  # fmt: skip
    finally:
        stack.close()
        cluster.stop()


def test_unreplicated_write_is_refused_and_a_retry_replays_it(tmp_path, local_config):
    """With the replica down, WAIT times out: the submission answers 503 not-replicated (the
    job was written to the primary alone), and a cancel does too. Once a replica is back, the
    retry with the same Idempotency-Key replays that job: one job, acknowledged once."""
    cluster = SentinelRedis(tmp_path / "redis")
    try:
        cluster.start()
        settings = Settings(str(LOCAL_CONFIG), cluster.url, None,
                            redis_sentinels=tuple(cluster.env["REDIS_SENTINELS"].split(",")),
                            redis_sentinel_master=cluster.env["REDIS_SENTINEL_MASTER"],
                            redis_replicas_acked=1, redis_ack_timeout_ms=300)  # fmt: skip
        client = create_app(local_config, settings).test_client()
        headers = {"Authorization": "Bearer alpha-dev-token", "Idempotency-Key": "once"}
        body = {"name": "once", "image": "docker.io/library/busybox"}
        first = client.post("/v1/teams/alpha/jobs", json=body, headers=headers)
        assert first.status_code == 202, first.get_json()

        cluster.kill("b")
        refused = client.post("/v1/teams/alpha/jobs", json={**body, "name": "twice"},
                              headers={**headers, "Idempotency-Key": "twice"})  # fmt: skip
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert refused.mimetype == "application/problem+json"
        assert refused.get_json()["type"].endswith("not-replicated")
        cancel = client.delete(f"/v1/teams/alpha/jobs/{first.get_json()['id']}",
                               headers=headers)  # fmt: skip
        assert cancel.status_code == 503

        cluster.restart_as_replica("b", cluster.ports["a"])
        wait_until("the primary to count the replica",
                   lambda: cluster.replica_acks(cluster.ports["a"]), 20)  # fmt: skip
        retried = client.post("/v1/teams/alpha/jobs", json={**body, "name": "twice"},
                              headers={**headers, "Idempotency-Key": "twice"})  # fmt: skip
        assert retried.status_code == 202, retried.get_json()
        assert retried.headers.get("Idempotent-Replayed") == "true"  # the refused write, kept
        primary = cluster.client_at(cluster.ports["a"])
        assert len(list(primary.scan_iter(keys.job_key("*")))) == 2
    finally:
        cluster.stop()
