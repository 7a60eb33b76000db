"""Liveness (/healthz: the process answers) and readiness (/readyz: Redis and the
Kubernetes apiserver are reachable; 503 naming what is down otherwise). Both are public, so
they answer tersely: why a dependency is down (addresses, error text) goes to the log only."""

import logging

from flask import Blueprint

from wrapper.api.errors import problem
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.services import services

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
routes = Routes(bp)


@routes.get("/healthz", summary="Liveness", public=True,
            reply=Reply(200, "The process answers"))  # fmt: skip
def healthz():
    return {"status": "ok"}


@routes.get("/readyz", summary="Readiness: Redis and the Kubernetes apiserver reachable",
            public=True, reply=Reply(200, "Ready"), errors=errors(503))  # fmt: skip
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
        log.warning("not ready: %s", "; ".join(f"{k}: {v}" for k, v in down.items()))
        detail = "Not ready: " + ", ".join(f"{k} unreachable" for k in down)
        return problem(503, "not-ready", "Service Unavailable", detail,
                       errors=[{"field": k, "message": "unreachable"} for k in down])  # fmt: skip
    return {"status": "ready", "checks": {"redis": "ok", "apiserver": "ok"}}
