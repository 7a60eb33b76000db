"""Prometheus metrics for the API. Under gunicorn the start script sets
PROMETHEUS_MULTIPROC_DIR, and /metrics aggregates every worker process's values."""

import os

from flask import Blueprint, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    generate_latest,
    multiprocess,
)

from wrapper.api.routes import Reply, Routes

SUBMISSIONS = Counter("trainq_job_submissions_total", "Jobs accepted (202)", ["team"])
HTTP_ERRORS = Counter("trainq_http_errors_total", "4xx/5xx responses", ["status"])
CANCELLATIONS = Counter("trainq_job_cancellations_total", "DELETE requests accepted", ["team"])

bp = Blueprint("metrics", __name__)
routes = Routes(bp)
TEXT = {"text/plain": {"schema": {"type": "string"}}}


@routes.get("/metrics", summary="Prometheus metrics", public=True,
            reply=Reply(200, "Prometheus text format", content=TEXT))  # fmt: skip
def metrics():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)


def count_errors(response):
    if response.status_code >= 400:
        HTTP_ERRORS.labels(status=str(response.status_code)).inc()
    return response
