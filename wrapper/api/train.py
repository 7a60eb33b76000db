"""/v1/train: the MiniAutoML-compatible surface (the seed's gRPC `Train` and
`GetTrainingStatus` as JSON over HTTP), so a frontend built for the seed switches by URL.
The team is the token's; the protocol itself lives in `wrapper.api.miniautoml`.

Errors keep the seed's words as the problem's `detail`: INVALID_ARGUMENT is 400 and
NOT_FOUND is 404; an algorithm the registry does not know, or a job that can never be
admitted, is 422, like job submission (both surfaces submit through `wrapper.jobs.submission`).
`?dry_run=true` (a trainq extension) answers where the job would land, as on the job API.
"""

import pydantic
from flask import Blueprint

from wrapper.api import dry_run, metrics, miniautoml, records
from wrapper.api.auth import authenticate
from wrapper.api.bodies import idempotency_key, json_body
from wrapper.api.errors import ApiError, field_errors, validation_error
from wrapper.api.jobs import IDEMPOTENCY_KEY
from wrapper.api.miniautoml import (
    InvalidArgument,
    TrainRequest,
    TrainResponse,
    TrainStatusRequest,
    TrainStatusResponse,
)
from wrapper.api.routes import ERROR_TEXT, Reply, Routes
from wrapper.api.rules import INT32_MAX
from wrapper.api.schemas import JobRequest
from wrapper.api.services import services
from wrapper.jobs.store import IdempotencyConflict
from wrapper.jobs.submission import NeverFits, Submission, UnknownAlgorithm, preview, submit

bp = Blueprint("compat", __name__, url_prefix="/v1/train")
routes = Routes(bp)
TAGS = ("MiniAutoML compatibility",)
STATUS_ERRORS = {
    400: "INVALID_ARGUMENT: job_id is not an int32, or malformed JSON",
    401: "Missing or invalid bearer token",
    404: "NOT_FOUND: detail \"Job N doesn't exist\" (also another team's job)",
    503: "Redis is unavailable",
}
BODY_ERRORS = {413: "Body larger than the configured limit (default 64 KiB)",
               415: "Body is not application/json"}  # fmt: skip
TRAIN_DESCRIPTION = (
    "The seed's `TrainingService.Train`. Checked in the seed's order, each missing or empty "
    "field answering 400 with the seed's sentence as `detail`: "
    '`"outputModelName" is required.`, then `"datasetId"`, `"trainDataVersionHash"`, '
    '`"algorithm"`. `parameters` become env vars of every replica (names trainq or the '
    "operator set are refused, 400); `PARALLEL_INSTANCES=N` runs 1 Master + N-1 Workers. Every "
    "replica also gets JOB_ID, ALGORITHM_NAME, TRAINING_DATASET_ID, "
    "TRAINING_DATASET_VERSION_HASH and MODEL_NAME."
)
STATUS_DESCRIPTION = (
    "`job_id` may be a number or a numeric string, as grpcurl sends it. Status: queued → "
    "queuing, dispatching/created → launch, running/restarting → running, succeeded → "
    "succeed, failed/cancelling/cancelled → failure."
)


def _invalid(detail: str, errors: list[dict] | None = None) -> ApiError:
    return ApiError(400, "invalid-argument", "Bad Request", detail, errors)


def _refused(errors: list[dict]) -> ApiError:
    """A 400 naming the first bad field in its detail, the seed's way."""
    return _invalid(f'"{errors[0]["field"]}": {errors[0]["message"]}', errors)


def _body():
    # The seed's parser decides the rest (so object_only=False).
    return json_body(malformed=_invalid, refused=_refused, object_only=False)


def _request(svc, team: str, body) -> tuple[dict, JobRequest]:
    """The Train request's metadata and the job request it stands for (400 in the seed's words)."""
    try:
        metadata = miniautoml.parse_train(body)
        workers = miniautoml.check_parameters(metadata["parameters"], svc.config.limits.max_workers)
    except InvalidArgument as exc:
        raise _invalid(str(exc)) from None
    try:
        req = JobRequest.model_validate(miniautoml.job_request(metadata, workers),
                                        context={"config": svc.config, "team": team})  # fmt: skip
    except pydantic.ValidationError as exc:
        errors = [{**e, "field": miniautoml.request_field(e["field"])} for e in field_errors(exc)]
        raise _refused(errors) from None
    return metadata, req


@routes.post(
    "", tags=TAGS, summary="MiniAutoML Train: queue a job for the token's team",
    description=TRAIN_DESCRIPTION, body=TrainRequest, params=(IDEMPOTENCY_KEY, dry_run.PARAM),
    reply=Reply(200, "Queued; job ids rise 1, 2, 3...", TrainResponse),
    other_replies=(dry_run.REPLY,),
    errors={400: "INVALID_ARGUMENT: a missing field (the seed's sentence), a refused "
                 "parameter, malformed JSON or an unknown field",
            401: "Missing or invalid bearer token",
            403: "The admin token (Train needs a team's token)",
            413: "Body larger than the configured limit (default 64 KiB)",
            415: "Body is not application/json",
            422: "The algorithm is not registered, the job can never be admitted "
                 "(PARALLEL_INSTANCES too large for the team's quota or the cluster), or the "
                 "Idempotency-Key was used with another body",
            429: ERROR_TEXT[429],
            503: "Redis is unavailable; nothing was queued"},
)  # fmt: skip
def train():
    svc = services()
    principal = authenticate(svc.config)
    if principal.admin:
        detail = "Train runs the job for the token's team; the admin token has none."
        raise ApiError(403, "forbidden", "Forbidden", detail)
    dry = dry_run.requested()
    body = _body()
    key = idempotency_key()
    metadata, req = _request(svc, principal.team, body)
    sub = Submission(principal.team, req.to_spec(svc.config), metadata["algorithm"],
                     extra={"train_metadata": metadata}, idempotency_key=key,
                     body=body)  # fmt: skip
    try:
        if dry:  # a trainq extension of the seed's surface, answered as on the job API
            return dry_run.answer(preview(svc.admissions, svc.algorithms, sub))
        record, replayed = submit(svc.store, svc.admissions, svc.algorithms, sub)
    except UnknownAlgorithm:
        raise validation_error(
            [{"field": "algorithm", "message": "not a registered algorithm"}],
            f'Algorithm "{metadata["algorithm"]}" is not registered (GET /v1/algorithms).',
        ) from None
    except NeverFits as exc:
        # The request's only lever on the job's size is PARALLEL_INSTANCES.
        errors = [{**e, "field": miniautoml.never_fits_field(e["field"], metadata)}
                  for e in exc.problems]  # fmt: skip
        raise validation_error(errors, NeverFits.DETAIL) from None
    except IdempotencyConflict:
        raise validation_error(
            [{"field": "Idempotency-Key", "message": "already used with a different body"}],
            "This Idempotency-Key was used before with a different request body.",
        ) from None
    if replayed:
        return {"job_id": record["id"]}, {"Idempotent-Replayed": "true"}
    metrics.SUBMISSIONS.labels(team=principal.team).inc()
    return {"job_id": record["id"]}


def _status(principal, job_id: int) -> dict:
    svc = services()
    record = svc.store.get(job_id) if job_id > 0 else None
    if record is None or not (principal.admin or record["team"] == principal.team):
        raise ApiError(404, "not-found", "Not Found", miniautoml.not_found_message(job_id))
    position = records.public(record).get("position")
    return miniautoml.status_response(record, position)


@routes.post("/status", tags=TAGS, summary="MiniAutoML GetTrainingStatus (job_id in the body)",
             description=STATUS_DESCRIPTION, body=TrainStatusRequest,
             reply=Reply(200, "The job's status", TrainStatusResponse),
             errors=dict(sorted({**STATUS_ERRORS, **BODY_ERRORS}.items())))  # fmt: skip
def status_by_body():
    principal = authenticate(services().config)
    try:
        job_id = miniautoml.parse_job_id(_body())
    except InvalidArgument as exc:
        raise _invalid(str(exc)) from None
    return _status(principal, job_id)


@routes.get("/<job_id>/status", tags=TAGS,
            summary="MiniAutoML GetTrainingStatus (job_id in the path)",
            path_types={"job_id": {"type": "integer", "minimum": -INT32_MAX,
                                   "maximum": INT32_MAX}},
            reply=Reply(200, "The job's status", TrainStatusResponse),
            errors=STATUS_ERRORS)  # fmt: skip
def status_by_path(job_id: str):
    principal = authenticate(services().config)
    try:
        number = miniautoml.job_id_value(job_id)
    except InvalidArgument as exc:
        raise _invalid(str(exc)) from None
    return _status(principal, number)
