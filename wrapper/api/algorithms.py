"""/v1/algorithms: the algorithm registry (the seed's proposed createAlgorithmMapping and
updateAlgorithmVersion). Any valid token reads; only the admin token writes."""

from flask import Blueprint, url_for

from wrapper.algorithms.registry import (
    INHERIT,
    AlgorithmExists,
    UnknownAlgorithm,
    VersionConflict,
    summary,
)
from wrapper.api.auth import Principal, authenticate
from wrapper.api.bodies import json_body
from wrapper.api.errors import ApiError, not_found
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.schemas import Algorithm, AlgorithmCreate, AlgorithmList, AlgorithmUpdate
from wrapper.api.services import services

bp = Blueprint("algorithms", __name__, url_prefix="/v1/algorithms")
routes = Routes(bp)
TAGS = ("algorithms",)
# This surface's own words for some errors.
WRITE_ERRORS = {401: "Missing or invalid bearer token", 403: "Not the admin token",
                413: "Body larger than the configured limit (default 64 KiB)",
                415: "Body is not JSON",
                422: "Validation failed (e.g. an image outside images.allowed_prefixes)",
                503: "Redis is unavailable; nothing was changed"}  # fmt: skip
READ_ERRORS = {401: WRITE_ERRORS[401], 503: WRITE_ERRORS[503]}
NO_ALGORITHM = {404: "No such algorithm"}


def publisher(principal: Principal) -> str:
    """Who a registry change is recorded as: 'admin' or the team's name."""
    return "admin" if principal.admin else principal.team


def _admin():
    svc = services()
    principal = authenticate(svc.config)
    if not principal.admin:
        raise ApiError(403, "forbidden", "Forbidden",
                       "Only the admin token may change the algorithm registry.")  # fmt: skip
    return svc, principal


def _conflict(detail: str) -> ApiError:
    return ApiError(409, "conflict", "Conflict", detail)


@routes.post(
    "", tags=TAGS, summary="Register an algorithm with its first version (admin token)",
    body=AlgorithmCreate, reply=Reply(201, "Registered", Algorithm),
    errors=errors(400, WRITE_ERRORS, {409: "The name is taken"}),
)  # fmt: skip
def create():
    svc, principal = _admin()
    req = AlgorithmCreate.model_validate(json_body(), context={"config": svc.config})
    try:
        record = svc.algorithms.create(req.name, req.image, req.version, req.command,
                                       req.description, publisher(principal))  # fmt: skip
    except AlgorithmExists:
        detail = f"Algorithm {req.name} already exists; PUT /v1/algorithms/{req.name} publishes "
        raise _conflict(detail + "a new version.") from None
    return record, {"Location": url_for("algorithms.get_algorithm", name=req.name)}


@routes.put(
    "/<name>", tags=TAGS,
    summary="Publish a version: new jobs resolve to it, queued and running jobs keep theirs "
    "(admin token)",
    body=AlgorithmUpdate, reply=Reply(200, "Published (repeating it changes nothing)", Algorithm),
    errors=errors(400, WRITE_ERRORS, NO_ALGORITHM,
                  {409: "The version was published with another image or command"}),
)  # fmt: skip
def update(name: str):
    svc, principal = _admin()
    req = AlgorithmUpdate.model_validate(json_body(), context={"config": svc.config})
    command = req.command if "command" in req.model_fields_set else INHERIT
    try:
        record, _ = svc.algorithms.publish(name, req.image, req.version, command,
                                           publisher(principal))  # fmt: skip
    except UnknownAlgorithm:
        raise not_found("algorithm") from None
    except VersionConflict as exc:
        raise _conflict(str(exc)) from None
    return record


@routes.get("", tags=TAGS, summary="Every algorithm at its current version (any valid token)",
            reply=Reply(200, "The algorithms", AlgorithmList),
            errors=errors(READ_ERRORS))  # fmt: skip
def list_algorithms():
    svc = services()
    authenticate(svc.config)
    return {"items": [summary(r) for r in svc.algorithms.list_all()]}


@routes.get(
    "/<name>", tags=TAGS,
    summary="An algorithm: current version and version history (any valid token)",
    reply=Reply(200, "The algorithm", Algorithm),
    errors=errors(READ_ERRORS, NO_ALGORITHM),
)  # fmt: skip
def get_algorithm(name: str):
    svc = services()
    authenticate(svc.config)
    record = svc.algorithms.get(name)
    if record is None:
        raise not_found("algorithm")
    return record
