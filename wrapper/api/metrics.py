"""Prometheus metrics for the API, served on their own port (`serve`, started by the gunicorn
master: wrapper/gunicorn.conf.py), never on the API's: they carry per-team labels, and the
API's port is the one an ingress exposes. Under gunicorn PROMETHEUS_MULTIPROC_DIR is set, and
the metrics port sums every worker process's values."""

import logging
import os

import redis
from prometheus_client import REGISTRY, CollectorRegistry, Counter, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily

from wrapper.jobs import storage

log = logging.getLogger(__name__)

SUBMISSIONS = Counter("trainq_job_submissions_total", "Jobs accepted (202)", ["team"])
HTTP_ERRORS = Counter("trainq_http_errors_total", "4xx/5xx responses", ["status"])
CANCELLATIONS = Counter("trainq_job_cancellations_total", "DELETE requests accepted", ["team"])


def exposition(client: redis.Redis) -> CollectorRegistry:
    """What the metrics port serves: the API processes' counters (every gunicorn worker's,
    summed from PROMETHEUS_MULTIPROC_DIR, else this process's) and the store's gauges."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(StoreCollector(client))
    return registry


def serve(host: str, port: int, client: redis.Redis):
    """Serve the metrics on host:port from a thread of this process; (server, thread)."""
    return start_http_server(port, addr=host, registry=exposition(client))


class _ThisProcess:
    def collect(self):
        return REGISTRY.collect()


class StoreCollector:
    """Read at scrape time from Redis (one process's view is everyone's): memory against
    maxmemory, and leftover PyTorchJobs. Nothing when Redis is down (the scrape still works)."""

    def __init__(self, client: redis.Redis):
        self.client = client

    def collect(self):
        try:
            use = storage.memory_use(self.client)
            leftovers = storage.leftover_count(self.client)
        except redis.exceptions.RedisError as exc:
            log.warning("metrics: Redis unavailable: %s", exc)
            return
        yield GaugeMetricFamily("trainq_redis_memory_used_bytes", "Redis used_memory",
                                value=use.used_bytes)  # fmt: skip
        yield GaugeMetricFamily("trainq_redis_memory_max_bytes",
                                "Redis maxmemory (0: none set)", value=use.max_bytes)  # fmt: skip
        if use.max_bytes:
            # Writes are refused (503) at 1.0: alert well before.
            yield GaugeMetricFamily("trainq_redis_memory_used_ratio", "used / maxmemory",
                                    value=use.used_bytes / use.max_bytes)  # fmt: skip
        yield GaugeMetricFamily("trainq_leftover_pytorchjobs",
                                "PyTorchJobs of this instance that no job record owns",
                                value=leftovers)  # fmt: skip


def count_errors(response):
    if response.status_code >= 400:
        HTTP_ERRORS.labels(status=str(response.status_code)).inc()
    return response
