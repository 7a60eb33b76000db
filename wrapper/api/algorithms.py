"""/v1/algorithms: the algorithm registry (the seed's proposed createAlgorithmMapping and
updateAlgorithmVersion). Any valid token reads; only the admin token writes."""

from flask import Blueprint, jsonify, url_for

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
from wrapper.api.schemas import AlgorithmCreate, AlgorithmUpdate
from wrapper.api.services import services

bp = Blueprint("algorithms", __name__, url_prefix="/v1/algorithms")
TAG = "algorithms"


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


@bp.post("")
def create():
    svc, principal = _admin()
    req = AlgorithmCreate.model_validate(json_body(), context={"config": svc.config})
    try:
        record = svc.algorithms.create(req.name, req.image, req.version, req.command,
                                       req.description, publisher(principal))  # fmt: skip
    except AlgorithmExists:
        detail = f"Algorithm {req.name} already exists; PUT /v1/algorithms/{req.name} publishes "
        raise _conflict(detail + "a new version.") from None
    response = jsonify(record)
    response.status_code = 201
    response.headers["Location"] = url_for("algorithms.get_algorithm", name=req.name)
    return response


@bp.put("/<name>")
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
    return jsonify(record)


@bp.get("")
def list_algorithms():
    svc = services()
    authenticate(svc.config)
    return jsonify(items=[summary(r) for r in svc.algorithms.list_all()])


@bp.get("/<name>")
def get_algorithm(name: str):
    svc = services()
    authenticate(svc.config)
    record = svc.algorithms.get(name)
    if record is None:
        raise not_found("algorithm")
    return jsonify(record)


def _problems(*pairs: tuple[int, str]) -> dict:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {str(code): {"description": text, "content": problem} for code, text in pairs}


def _json(ref: str, description: str) -> dict:
    schema = {"$ref": f"#/components/schemas/{ref}"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


UNAUTHORIZED = (401, "Missing or invalid bearer token")
FORBIDDEN = (403, "Not the admin token")
INVALID = (422, "Validation failed (e.g. an image outside images.allowed_prefixes)")
UNAVAILABLE = (503, "Redis is unavailable; nothing was changed")
NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}


def openapi_paths() -> dict:
    body = {"required": True, "content": {"application/json": {"schema": {}}}}
    return {
        "/v1/algorithms": {
            "post": {
                "tags": [TAG],
                "summary": "Register an algorithm with its first version (admin token)",
                "requestBody": {**body, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AlgorithmCreate"}}}},
                "responses": {
                    "201": _json("Algorithm", "Registered"),
                    **_problems((400, "Malformed JSON"), UNAUTHORIZED, FORBIDDEN,
                                (409, "The name is taken"), (415, "Body is not JSON"),
                                INVALID, UNAVAILABLE),
                },
            },
            "get": {
                "tags": [TAG],
                "summary": "Every algorithm at its current version (any valid token)",
                "responses": {"200": _json("AlgorithmList", "The algorithms"),
                              **_problems(UNAUTHORIZED, UNAVAILABLE)},
            },
        },
        "/v1/algorithms/{name}": {
            "parameters": [NAME],
            "put": {
                "tags": [TAG],
                "summary": "Publish a version: new jobs resolve to it, queued and running "
                "jobs keep theirs (admin token)",
                "requestBody": {**body, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/AlgorithmUpdate"}}}},
                "responses": {
                    "200": _json("Algorithm", "Published (repeating it changes nothing)"),
                    **_problems((400, "Malformed JSON"), UNAUTHORIZED, FORBIDDEN,
                                (404, "No such algorithm"),
                                (409, "The version was published with another image or "
                                      "command"),
                                (415, "Body is not JSON"), INVALID, UNAVAILABLE),
                },
            },
            "get": {
                "tags": [TAG],
                "summary": "An algorithm: current version and version history (any valid token)",
                "responses": {"200": _json("Algorithm", "The algorithm"),
                              **_problems(UNAUTHORIZED, (404, "No such algorithm"), UNAVAILABLE)},
            },
        },
    }  # fmt: skip
