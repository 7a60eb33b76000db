"""The metrics port of a worker or watcher process: TRAINQ_METRICS_PORT (unset: not served) on
TRAINQ_METRICS_HOST (default 127.0.0.1), never the API's port (an ingress exposes that; the
metrics carry per-team labels). The API's own port is started by gunicorn's master
(`wrapper.api.metrics`). A worker or watcher must run without PROMETHEUS_MULTIPROC_DIR: its
values live in the process and are served from it (with that variable they would land in the
API's directory and be summed into the API's scrape too)."""

import logging
import os
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.core import GaugeMetricFamily

log = logging.getLogger(__name__)


class _ThisProcess:
    """The process-wide registry's collectors (events, process and Python runtime)."""

    def collect(self) -> Iterator:
        return REGISTRY.collect()


class Flag:
    """A 0/1 gauge read at scrape time (the watcher: whether it leads)."""

    def __init__(self, name: str, documentation: str, read: Callable[[], bool]):
        self.name, self.documentation, self.read = name, documentation, read

    def collect(self) -> Iterator:
        yield GaugeMetricFamily(self.name, self.documentation, value=1.0 if self.read() else 0.0)


def registry(*collectors) -> CollectorRegistry:
    out = CollectorRegistry()
    out.register(_ThisProcess())
    for collector in collectors:
        out.register(collector)
    return out


def serve_from_env(process: str, *collectors, env: Mapping[str, str] = os.environ):
    """Serve this process's metrics (and `collectors`) from a thread when TRAINQ_METRICS_PORT
    is set; (server, thread), or None."""
    port = env.get("TRAINQ_METRICS_PORT")
    if not port:
        return None
    if env.get("PROMETHEUS_MULTIPROC_DIR"):
        log.warning("PROMETHEUS_MULTIPROC_DIR is set for the %s: its metrics would also be "
                    "summed into the API's; unset it for this process", process)  # fmt: skip
    host = env.get("TRAINQ_METRICS_HOST", "127.0.0.1")
    served = start_http_server(int(port), addr=host, registry=registry(*collectors))
    log.info("%s metrics on http://%s:%s/metrics", process, host, port)
    return served
