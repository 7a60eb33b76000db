"""/v1/teams/{team}/jobs: submit, list, read, cancel, suspend and resume a team's training
jobs."""

from flask import Blueprint, request

from wrapper.api import dry_run, metrics, paging, records
from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.bodies import idempotency_key, json_body
from wrapper.api.errors import ApiError, not_found, validation_error
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.schemas import JobList, JobRecord, JobRequest
from wrapper.api.services import services
from wrapper.jobs.cancellation import AlreadyFinished, cancel
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import IdempotencyConflict
from wrapper.jobs.submission import NeverFits, Submission, UnknownAlgorithm, preview, submit
from wrapper.jobs.suspension import NotNow, resume, suspend

bp = Blueprint("jobs", __name__, url_prefix="/v1/teams/<team>/jobs")
routes = Routes(bp)
LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX = 50, 500

LOCATION = {"Location": {"description": "URL of the job", "schema": {"type": "string"}}}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "Same key and body: the same job; another body: 422",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
}
LIST_PARAMS = (
    {"name": "status", "in": "query", "schema": {"$ref": "#/components/schemas/JobStatus"}},
    *paging.params(LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT),
)


def _team(team: str):
    svc = services()
    principal = authenticate(svc.config)
    authorize_team(principal, team, svc.config)
    return svc, principal


def _location(team: str, job_id: int) -> str:
    # What url_for("jobs.get_job", ...) gives, without its cost on the submission path.
    return f"{request.script_root}/v1/teams/{team}/jobs/{job_id}"


@routes.post(
    "", summary="Submit a training job (1 Master + `workers` Workers)", body=JobRequest,
    params=(IDEMPOTENCY_KEY, dry_run.PARAM),
    reply=Reply(202, "Accepted and queued", JobRecord, LOCATION),
    other_replies=(dry_run.REPLY,), errors=errors(400, 401, 404, 413, 415, 422, 429, 503),
)  # fmt: skip
def submit_job(team: str):
    svc, _ = _team(team)
    dry = dry_run.requested()
    body = json_body()
    key = idempotency_key()
    req = JobRequest.model_validate(body, context={"config": svc.config, "team": team})
    sub = Submission(team, req.to_spec(svc.config), req.algorithm, idempotency_key=key, body=body)
    try:
        if dry:
            return dry_run.answer(preview(svc.admissions, svc.algorithms, sub))
        record, replayed = submit(svc.store, svc.admissions, svc.algorithms, sub)
    except UnknownAlgorithm as exc:
        message = f"unknown algorithm {exc.name!r}"
        raise validation_error([{"field": "algorithm", "message": message}]) from None
    except NeverFits as exc:
        raise validation_error(exc.problems, NeverFits.DETAIL) from None
    except IdempotencyConflict:
        raise validation_error(
            [{"field": "Idempotency-Key", "message": "already used with a different body"}],
            "This Idempotency-Key was used before with a different request body.",
        ) from None
    headers = {"Location": _location(team, record["id"])}
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    else:
        metrics.SUBMISSIONS.labels(team=team).inc()
    return records.public(record, plan=False), headers


@routes.get("", summary="List the team's jobs, newest first", params=LIST_PARAMS,
            reply=Reply(200, "A page of jobs", JobList),
            errors=errors(401, 404, 422, 503))  # fmt: skip
def list_jobs(team: str):
    svc, _ = _team(team)
    status = request.args.get("status")
    if status is not None and status not in {s.value for s in JobStatus}:
        allowed = ", ".join(s.value for s in JobStatus)
        raise validation_error([{"field": "status", "message": f"must be one of: {allowed}"}])
    limit = paging.int_arg("limit", 1, LIST_LIMIT_MAX, LIST_LIMIT_DEFAULT)
    cursor = paging.int_arg("cursor", 1, None, None)
    items, next_cursor = svc.store.list_team(team, status, limit, cursor)
    return {
        "items": [records.public(r) for r in items],
        "next_cursor": str(next_cursor) if next_cursor else None,
    }


def _record(svc, team: str, job_id: int) -> dict:
    record = svc.store.get(job_id)
    if record is None or record["team"] != team:
        raise not_found("job")
    return record


@routes.get("/<int:job_id>", summary="Read a job record (served from Redis)",
            reply=Reply(200, "The job", JobRecord), errors=errors(401, 404, 503))  # fmt: skip
def get_job(team: str, job_id: int):
    svc, _ = _team(team)
    # The record and the admission version (for a queued job's place) in one round trip; a
    # job past its queue is answered from the process's coherent cache (polling clients).
    record, version = svc.status_reads.read(job_id)
    if record is None or record["team"] != team:
        raise not_found("job")
    records.version_read(version)
    return records.public(record)


@routes.delete(
    "/<int:job_id>",
    summary="Cancel a job (queued: now; dispatched: when its PyTorchJob is gone)",
    reply=Reply(202, "Cancellation accepted (repeating it is harmless)", JobRecord),
    errors=errors(401, 404, 409, 503),
)
def cancel_job(team: str, job_id: int):
    svc, principal = _team(team)
    try:
        if cancel(svc.store, _record(svc, team, job_id), principal.label):
            metrics.CANCELLATIONS.labels(team=team).inc()
    except AlreadyFinished as exc:
        detail = f"Job {job_id} already finished ({exc.status.value})."
        raise ApiError(409, "conflict", "Conflict", detail) from None
    svc.store.durable()
    return records.public(_record(svc, team, job_id))


def _change(team: str, job_id: int, change, done: str):
    """Suspend or resume (`change`) on behalf of the caller; 409 when the status forbids it."""
    svc, principal = _team(team)
    try:
        change(svc.store, _record(svc, team, job_id), principal.label)
    except NotNow as exc:
        detail = f"Job {job_id} cannot be {done} while {exc.status.value}."
        raise ApiError(409, "conflict", "Conflict", detail) from None
    svc.store.durable()
    return records.public(_record(svc, team, job_id))


@routes.post(
    "/<int:job_id>/suspend",
    summary="Suspend a job: out of its queue, or its PyTorchJob suspended; it holds nothing",
    reply=Reply(202, "Suspended (repeating it is harmless)", JobRecord),
    errors=errors(401, 404, 409, 503),
)
def suspend_job(team: str, job_id: int):
    return _change(team, job_id, suspend, "suspended")


@routes.post(
    "/<int:job_id>/resume",
    summary="Resume a suspended job: back at its place in its team queue",
    reply=Reply(202, "Queued again (repeating it is harmless)", JobRecord),
    errors=errors(401, 404, 409, 503),
)
def resume_job(team: str, job_id: int):
    return _change(team, job_id, resume, "resumed")
