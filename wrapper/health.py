"""Liveness (/healthz: the process answers) and readiness (/readyz: Redis and the
Kubernetes apiserver are reachable; 503 naming what is down otherwise)."""

import logging
import threading

from flask import Blueprint, jsonify
from kubernetes import client

from wrapper.errors import problem
from wrapper.kubeclient import api_client
from wrapper.services import services

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


class ApiserverProbe:
    """Readiness check of the apiserver; the client is built lazily so a missing
    kubeconfig shows as 'apiserver: ...' in /readyz rather than a crash at start."""

    def __init__(self, kubeconfig: str | None):
        self.kubeconfig = kubeconfig
        self._client = None
        self._lock = threading.Lock()

    def check(self) -> str | None:
        try:
            with self._lock:
                if self._client is None:
                    self._client = api_client(self.kubeconfig)
            client.VersionApi(self._client).get_code(_request_timeout=3)
            return None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    svc = services()
    down = {}
    try:
        svc.store.redis.ping()
    except Exception as exc:  # noqa: BLE001
        down["redis"] = str(exc)[:200]
    apiserver_error = svc.apiserver.check()
    if apiserver_error:
        down["apiserver"] = apiserver_error
    if down:
        detail = "Not ready: " + "; ".join(f"{k} unreachable ({v})" for k, v in down.items())
        return problem(503, "not-ready", "Service Unavailable", detail,
                       errors=[{"field": k, "message": v} for k, v in down.items()])  # fmt: skip
    return jsonify(status="ready", checks={"redis": "ok", "apiserver": "ok"})
