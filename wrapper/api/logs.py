"""`GET /v1/teams/{team}/jobs/{id}/logs`: a replica's log, streamed from the apiserver while its
pod exists (`Trainq-Log-Source: live`), else the copy the watcher kept when the job ended (the
last 1 MiB, for the retention period: `Trainq-Log-Source: archive`; `wrapper.runs.logs`)."""

import logging

from flask import Blueprint, Response, current_app, request

from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.errors import ApiError, not_found, validation_error
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.services import services
from wrapper.kubeclient import LogUnavailable, PodLogs
from wrapper.runs import logs
from wrapper.runs.logs import LogArchive

log = logging.getLogger(__name__)
bp = Blueprint("logs", __name__, url_prefix="/v1/teams/<team>")
routes = Routes(bp)
TAIL_MAX = 100_000
INDEX_MAX = 1_000_000  # far above any job's workers (limits.max_workers): a bound, not a rule
CHUNK = 16 * 1024
SOURCE = "Trainq-Log-Source"
PARAMS = (
    {"name": "replica", "in": "query", "schema": {"type": "string", "enum": list(logs.REPLICAS),
                                                  "default": "Master"}},
    {"name": "index", "in": "query", "description": "0 for the Master; 0..workers-1",
     "schema": {"type": "integer", "minimum": 0, "maximum": INDEX_MAX, "default": 0}},
    {"name": "tail", "in": "query", "description": "Only the last lines (default: all)",
     "schema": {"type": "integer", "minimum": 1, "maximum": TAIL_MAX}},
    {"name": "follow", "in": "query", "description": "Keep streaming while the container runs",
     "schema": {"type": "boolean", "default": False}},
)  # fmt: skip
HEADERS = {SOURCE: {"description": "`live` (from the apiserver) or `archive` (the copy kept "
                                   "when the job ended)",
                    "schema": {"type": "string", "enum": ["live", "archive"]}}}  # fmt: skip


def _int(name: str, raw: str | None, low: int, high: int) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and low <= int(raw) <= high):
        raise validation_error([{"field": name, "message": f"must be an integer {low}..{high}"}])
    return int(raw)


def _follow() -> bool:
    raw = request.args.get("follow", "false")
    if raw not in ("true", "false", "1", "0"):
        raise validation_error([{"field": "follow", "message": "must be true or false"}])
    return raw in ("true", "1")


def _pod_logs() -> PodLogs:
    ext = current_app.extensions
    if "trainq_pod_logs" not in ext:  # one per process (its client is built on first use)
        ext["trainq_pod_logs"] = PodLogs(services().settings.kubeconfig)
    return ext["trainq_pod_logs"]


def _text(body, source: str) -> Response:
    response = Response(body, mimetype="text/plain")
    response.headers[SOURCE] = source
    return response


def _live(record: dict, replica: str, index: int, tail: int | None, follow: bool):
    ref = record.get("pytorchjob")
    if not ref or record.get("pytorchjob_deleted_at"):
        return None
    pod, selector, container = logs.pod_of(record, replica, index)
    try:
        if selector:  # a TrainJob's pod (random suffix): found by its labels
            pod = _pod_logs().find(ref["namespace"], selector)
            if pod is None:
                return None
        stream = _pod_logs().open(ref["namespace"], pod, container, tail, follow)
    except LogUnavailable as exc:
        if LogArchive(services().store.redis).read(record["id"], replica, index) is not None:
            return None  # the kept copy
        if exc.node_unreachable:
            log.warning("job %s: %s's log: %s", record["id"], pod, exc)
            raise ApiError(503, "service-unavailable", "Service Unavailable",
                           "The replica's node does not serve its log now; retry later.",
                           headers={"Retry-After": "5"}) from None  # fmt: skip
        raise ApiError(409, "conflict", "Conflict", f"The log cannot be read yet: {exc}") from None
    if stream is None:
        return None

    def chunks():
        try:
            yield from stream.stream(CHUNK)
        finally:
            stream.release_conn()

    return _text(chunks(), "live")


@routes.get("/jobs/<int:job_id>/logs", tags=("Training metrics and logs",), params=PARAMS,
            summary="A replica's log: live from the apiserver, or the copy kept after the end",
            reply=Reply(200, "The log (text/plain)", headers=HEADERS,
                        content={"text/plain": {"schema": {"type": "string"}}}),
            errors=errors(401, {404: "No such team or job (also another team's), or no log "
                                     "for the replica (not started, or not kept)",
                                409: "The replica's container has not started yet",
                                503: "Redis is unavailable, or the replica's node does not "
                                     "serve its log now"},
                          422))  # fmt: skip
def get_logs(team: str, job_id: int):
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    replica = request.args.get("replica", "Master")
    if replica not in logs.REPLICAS:
        raise validation_error([{"field": "replica", "message": "must be Master or Worker"}])
    index = _int("index", request.args.get("index"), 0, INDEX_MAX) or 0
    tail = _int("tail", request.args.get("tail"), 1, TAIL_MAX)
    follow = _follow()
    record = svc.store.get(job_id)
    if record is None or record["team"] != team:
        raise not_found("job")
    count = logs.replica_count(record["spec"], replica)
    if index >= count:
        message = f"the job has {count} {replica} replica{'s' if count != 1 else ''}"
        raise validation_error([{"field": "index", "message": message}])
    live = _live(record, replica, index, tail, follow)
    if live is not None:
        return live
    kept = LogArchive(svc.store.redis).read(job_id, replica, index)
    if kept is None:
        detail = f"No log for {replica} {index} of job {job_id}: not started, or not kept."
        raise ApiError(404, "not-found", "Not Found", detail)
    return _text(logs.tail_lines(kept, tail), "archive")
