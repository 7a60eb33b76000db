"""/v1/teams/{team}/jobs: submit, list, read and cancel a team's training jobs."""

from flask import Blueprint, jsonify, request

from wrapper.algorithms.registry import resolved_spec
from wrapper.api import metrics
from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.bodies import idempotency_key, json_body
from wrapper.api.errors import ApiError, not_found, validation_error
from wrapper.api.queues import admissions
from wrapper.api.schemas import JobRequest
from wrapper.api.services import services
from wrapper.clock import utcnow
from wrapper.jobs.states import DISPATCHED, JobStatus
from wrapper.jobs.store import IdempotencyConflict, body_digest

bp = Blueprint("jobs", __name__, url_prefix="/v1/teams/<team>/jobs")
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 50, 500


def _team(team: str):
    svc = services()
    principal = authenticate(svc.config)
    authorize_team(principal, team, svc.config)
    return svc, principal


def resolve_algorithm(svc, spec: dict, name: str) -> dict:
    """Fix a spec that names an algorithm to the algorithm's current version (422 if unknown)."""
    current = svc.algorithms.resolve(name)
    if current is None:
        raise validation_error([{"field": "algorithm", "message": f"unknown algorithm {name!r}"}])
    return resolved_spec(spec, current)


def _location(team: str, job_id: int) -> str:
    # What url_for("jobs.get_job", ...) gives, without its cost on the submission path.
    return f"{request.script_root}/v1/teams/{team}/jobs/{job_id}"


@bp.post("")
def submit(team: str):
    svc, _ = _team(team)
    body = json_body()
    key = idempotency_key()
    req = JobRequest.model_validate(body, context={"config": svc.config})
    spec = req.to_spec(svc.config)
    if req.algorithm is not None:
        spec = resolve_algorithm(svc, spec, req.algorithm)
    never = admissions().never_fits(team, spec)
    if never:
        raise validation_error(never, "The job can never be admitted: it asks for more than "
                               "its team may ever hold or than the cluster has.")  # fmt: skip
    try:
        digest = body_digest(body) if key is not None else ""  # only a key's replay reads it
        record, replayed = svc.store.submit(team, spec, key, digest)
    except IdempotencyConflict:
        raise validation_error(
            [{"field": "Idempotency-Key", "message": "already used with a different body"}],
            "This Idempotency-Key was used before with a different request body.",
        ) from None
    if not replayed:
        metrics.SUBMISSIONS.labels(team=team).inc()
    response = jsonify(svc.store.public(record, plan=False))
    response.status_code = 202
    response.headers["Location"] = _location(team, record["id"])
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _int_arg(name: str, low: int, high: int | None, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high else f"at least {low}"
        raise validation_error([{"field": name, "message": f"must be an integer {bounds}"}])
    return value


@bp.get("")
def list_jobs(team: str):
    svc, _ = _team(team)
    status = request.args.get("status") or None
    if status is not None and status not in {s.value for s in JobStatus}:
        allowed = ", ".join(s.value for s in JobStatus)
        raise validation_error([{"field": "status", "message": f"must be one of: {allowed}"}])
    limit = _int_arg("limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT)
    cursor = _int_arg("cursor", 1, None, None)
    items, next_cursor = svc.store.list_team(team, status, limit, cursor)
    return jsonify(
        items=[svc.store.public(r) for r in items],
        next_cursor=str(next_cursor) if next_cursor else None,
    )


def _record(svc, team: str, job_id: int) -> dict:
    record = svc.store.get(job_id)
    if record is None or record["team"] != team:
        raise not_found("job")
    return record


@bp.get("/<int:job_id>")
def get_job(team: str, job_id: int):
    svc, _ = _team(team)
    return jsonify(svc.store.public(_record(svc, team, job_id)))


@bp.delete("/<int:job_id>")
def cancel_job(team: str, job_id: int):
    svc, principal = _team(team)
    store = svc.store
    # Each attempt is a compare-and-set; a race (a worker claiming the job meanwhile) makes
    # the next attempt see the new status.
    for _ in range(5):
        record = _record(svc, team, job_id)
        status = JobStatus(record["status"])
        if status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            raise ApiError(409, "conflict", "Conflict",
                           f"Job {job_id} already finished ({status.value}).")  # fmt: skip
        if status in (JobStatus.CANCELLING, JobStatus.CANCELLED):
            break
        message = f"cancelled by {principal.label}"
        if status == JobStatus.QUEUED:
            fields = {"reason": "Cancelled", "message": message, "finished_at": utcnow()}
            if store.transition(job_id, JobStatus.CANCELLED, fields, expect={status}).applied:
                store.queues.remove(team, job_id)
                metrics.CANCELLATIONS.labels(team=team).inc()
                break
        elif status in DISPATCHED:
            fields = {"reason": "Cancelling", "message": message}
            if store.transition(job_id, JobStatus.CANCELLING, fields, expect={status}).applied:
                store.request_cancel(job_id)
                metrics.CANCELLATIONS.labels(team=team).inc()
                break
    response = jsonify(store.public(_record(svc, team, job_id)))
    response.status_code = 202
    return response
