"""/v1/train: the MiniAutoML-compatible surface (the seed's gRPC `Train` and
`GetTrainingStatus` as JSON over HTTP), so a frontend built for the seed switches by URL.
The team is the token's; the protocol itself lives in `wrapper.api.miniautoml`.

Errors keep the seed's words as the problem's `detail`: INVALID_ARGUMENT is 400 and
NOT_FOUND is 404; an algorithm the registry does not know is 422, like job submission.
"""

import pydantic
from flask import Blueprint, jsonify

from wrapper.algorithms.registry import resolved_spec
from wrapper.api import metrics, miniautoml
from wrapper.api.auth import authenticate
from wrapper.api.bodies import json_body
from wrapper.api.errors import ApiError, field_errors, validation_error
from wrapper.api.miniautoml import InvalidArgument
from wrapper.api.schemas import JobRequest
from wrapper.api.services import services

bp = Blueprint("compat", __name__, url_prefix="/v1/train")
TAG = "MiniAutoML compatibility"


def _invalid(detail: str, errors: list[dict] | None = None) -> ApiError:
    return ApiError(400, "invalid-argument", "Bad Request", detail, errors)


def _body():
    return json_body(malformed=_invalid, object_only=False)  # the seed's parser decides the rest


@bp.post("")
def train():
    svc = services()
    principal = authenticate(svc.config)
    if principal.admin:
        detail = "Train runs the job for the token's team; the admin token has none."
        raise ApiError(403, "forbidden", "Forbidden", detail)
    body = _body()
    try:
        metadata = miniautoml.parse_train(body)
        workers = miniautoml.check_parameters(metadata["parameters"], svc.config.limits.max_workers)
    except InvalidArgument as exc:
        raise _invalid(str(exc)) from None
    try:
        req = JobRequest.model_validate(miniautoml.job_request(metadata, workers),
                                        context={"config": svc.config})  # fmt: skip
    except pydantic.ValidationError as exc:
        errors = [{**e, "field": miniautoml.request_field(e["field"])} for e in field_errors(exc)]
        raise _invalid(f'"{errors[0]["field"]}": {errors[0]["message"]}', errors) from None
    current = svc.algorithms.resolve(metadata["algorithm"])
    if current is None:
        raise validation_error(
            [{"field": "algorithm", "message": "not a registered algorithm"}],
            f'Algorithm "{metadata["algorithm"]}" is not registered (GET /v1/algorithms).',
        )
    spec = resolved_spec(req.to_spec(svc.config), current)
    spec["train_metadata"] = metadata
    record, _ = svc.store.submit(principal.team, spec, None, "")
    metrics.SUBMISSIONS.labels(team=principal.team).inc()
    return jsonify(job_id=record["id"])


def _status(principal, job_id: int):
    svc = services()
    record = svc.store.get(job_id) if job_id > 0 else None
    if record is None or not (principal.admin or record["team"] == principal.team):
        raise ApiError(404, "not-found", "Not Found", miniautoml.not_found_message(job_id))
    position = svc.store.public(record).get("position")
    return jsonify(miniautoml.status_response(record, position))


@bp.post("/status")
def status_by_body():
    principal = authenticate(services().config)
    try:
        job_id = miniautoml.parse_job_id(_body())
    except InvalidArgument as exc:
        raise _invalid(str(exc)) from None
    return _status(principal, job_id)


@bp.get("/<job_id>/status")
def status_by_path(job_id: str):
    principal = authenticate(services().config)
    try:
        number = miniautoml.job_id_value(job_id)
    except InvalidArgument as exc:
        raise _invalid(str(exc)) from None
    return _status(principal, number)


def _json(ref: str, description: str) -> dict:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problems(*pairs: tuple[int, str]) -> dict:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {str(code): {"description": text, "content": problem} for code, text in pairs}


_STATUS_ERRORS = _problems(
    (400, 'INVALID_ARGUMENT: job_id is not an integer'),
    (401, "Missing or invalid bearer token"),
    (404, "NOT_FOUND: detail \"Job N doesn't exist\" (also another team's job)"),
    (503, "Redis is unavailable"),
)  # fmt: skip


def openapi_paths() -> dict:
    return {
        "/v1/train": {
            "post": {
                "tags": [TAG],
                "summary": "MiniAutoML Train: queue a job for the token's team",
                "description": (
                    "The seed's `TrainingService.Train`. Checked in the seed's order, each "
                    "missing or empty field answering 400 with the seed's sentence as `detail`: "
                    '`"outputModelName" is required.`, then `"datasetId"`, '
                    '`"trainDataVersionHash"`, `"algorithm"`. `parameters` become env vars of '
                    "every replica (names trainq or the operator set are refused, 400); "
                    "`PARALLEL_INSTANCES=N` runs 1 Master + N-1 Workers. Every replica also "
                    "gets JOB_ID, ALGORITHM_NAME, TRAINING_DATASET_ID, "
                    "TRAINING_DATASET_VERSION_HASH and MODEL_NAME."
                ),
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TrainRequest"}}}},
                "responses": {
                    "200": _json("TrainResponse", "Queued; job ids rise 1, 2, 3..."),
                    **_problems(
                        (400, "INVALID_ARGUMENT: a missing field (the seed's sentence), a "
                              "refused parameter, malformed JSON or an unknown field"),
                        (401, "Missing or invalid bearer token"),
                        (403, "The admin token (Train needs a team's token)"),
                        (415, "Body is not application/json"),
                        (422, "The algorithm is not registered"),
                        (503, "Redis is unavailable; nothing was queued"),
                    ),
                },
            }
        },
        "/v1/train/status": {
            "post": {
                "tags": [TAG],
                "summary": "MiniAutoML GetTrainingStatus (job_id in the body)",
                "description": "`job_id` may be a number or a numeric string, as grpcurl "
                "sends it. Status: queued → queuing, dispatching/created → launch, "
                "running/restarting → running, succeeded → succeed, failed/cancelling/"
                "cancelled → failure.",
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/TrainStatusRequest"}}}},
                "responses": {"200": _json("TrainStatusResponse", "The job's status"),
                              **_STATUS_ERRORS},
            }
        },
        "/v1/train/{job_id}/status": {
            "parameters": [{"name": "job_id", "in": "path", "required": True,
                            "schema": {"type": "integer"}}],
            "get": {
                "tags": [TAG],
                "summary": "MiniAutoML GetTrainingStatus (job_id in the path)",
                "responses": {"200": _json("TrainStatusResponse", "The job's status"),
                              **_STATUS_ERRORS},
            },
        },
    }  # fmt: skip
