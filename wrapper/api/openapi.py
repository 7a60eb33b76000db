"""GET /openapi.json: an OpenAPI 3.1 document for every endpoint, body and error, generated
from the pydantic models in `wrapper.api.schemas` so it cannot drift from the validation."""

from functools import cache

from flask import Blueprint, jsonify
from pydantic.json_schema import models_json_schema

from wrapper.api import algorithms, miniautoml, schemas
from wrapper.api import train as compat
from wrapper.jobs.states import JobStatus

bp = Blueprint("openapi", __name__)
REF = "#/components/schemas/{model}"

_ERROR_TEXT = {
    400: "Malformed JSON",
    401: "Missing or invalid bearer token",
    404: "No such team or job (also for another team's team path or job)",
    409: "The job already finished",
    413: "Body larger than the configured limit (default 64 KiB)",
    415: "Body is not application/json",
    422: "Validation failed; `errors` names each bad field",
    503: "Redis (or, for /readyz, a dependency) is unavailable; nothing was changed",
}


def _ref(name: str) -> dict:
    return {"$ref": REF.format(model=name)}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict:
    problem = {"content": {"application/problem+json": {"schema": _ref("Problem")}}}
    return {str(c): {"description": _ERROR_TEXT[c], **problem} for c in codes}


TEAM = {"name": "team", "in": "path", "required": True, "schema": {"type": "string"}}
JOB_ID = {"name": "job_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _paths() -> dict:
    record = _ref("JobRecord")
    location = {"Location": {"description": "URL of the job", "schema": {"type": "string"}}}
    return {
        "/v1/teams/{team}/jobs": {
            "parameters": [TEAM],
            "post": {
                "summary": "Submit a training job (1 Master + `workers` Workers)",
                "parameters": [
                    {
                        "name": "Idempotency-Key",
                        "in": "header",
                        "required": False,
                        "description": "Same key and body: the same job; another body: 422",
                        "schema": {"type": "string", "maxLength": 255},
                    }
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": _ref("JobRequest")}},
                },
                "responses": {
                    "202": {**_json(record, "Accepted and queued"), "headers": location},
                    **_errors(400, 401, 404, 413, 415, 422, 503),
                },
            },
            "get": {
                "summary": "List the team's jobs, newest first",
                "parameters": [
                    {"name": "status", "in": "query", "schema": _ref("JobStatus")},
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                    },
                    {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _json(_ref("JobList"), "A page of jobs"),
                              **_errors(401, 404, 422, 503)},
            },
        },
        "/v1/teams/{team}/jobs/{job_id}": {
            "parameters": [TEAM, JOB_ID],
            "get": {
                "summary": "Read a job record (served from Redis)",
                "responses": {"200": _json(record, "The job"), **_errors(401, 404, 503)},
            },
            "delete": {
                "summary": "Cancel a job (queued: now; dispatched: when its PyTorchJob is gone)",
                "responses": {
                    "202": _json(record, "Cancellation accepted (repeating it is harmless)"),
                    **_errors(401, 404, 409, 503),
                },
            },
        },
        "/v1/teams/{team}/queue": {
            "parameters": [TEAM],
            "get": {
                "summary": "The team's queue in admission order, with pending reasons, ETAs, "
                           "quota, usage, borrowing and share",
                "responses": {"200": _json(_ref("QueueView"), "The queue"),
                              **_errors(401, 404, 503)},
            },
        },
        "/v1/queues": {
            "get": {
                "summary": "Every team's queue at a glance (admin token)",
                "responses": {"200": _json(_ref("AllQueues"), "All queues"),
                              **_errors(401, 404, 503)},
            },
        },
        "/healthz": {"get": {"summary": "Liveness", "security": [],
                             "responses": {"200": {"description": "The process answers"}}}},
        "/readyz": {
            "get": {
                "summary": "Readiness: Redis and the Kubernetes apiserver reachable",
                "security": [],
                "responses": {"200": {"description": "Ready"}, **_errors(503)},
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics",
                "security": [],
                "responses": {"200": {"description": "Prometheus text format",
                                      "content": {"text/plain": {"schema": {"type": "string"}}}}},
            }
        },
        "/openapi.json": {
            "get": {"summary": "This document", "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}}}
        },
    }  # fmt: skip


@cache
def document() -> dict:
    models = [
        (schemas.JobRequest, "validation"),
        (schemas.JobRecord, "serialization"),
        (schemas.JobList, "serialization"),
        (schemas.QueueView, "serialization"),
        (schemas.AllQueues, "serialization"),
        (schemas.Problem, "serialization"),
        (schemas.AlgorithmCreate, "validation"),
        (schemas.AlgorithmUpdate, "validation"),
        (schemas.Algorithm, "serialization"),
        (schemas.AlgorithmList, "serialization"),
        (miniautoml.TrainRequest, "validation"),
        (miniautoml.TrainResponse, "serialization"),
        (miniautoml.TrainStatusRequest, "validation"),
        (miniautoml.TrainStatusResponse, "serialization"),
    ]
    _, top = models_json_schema(models, ref_template=REF)
    components = dict(top["$defs"])
    components.setdefault("JobStatus", {"type": "string", "enum": [s.value for s in JobStatus]})
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "trainq",
            "version": "1",
            "description": "Team-scoped queue in front of Kubeflow PyTorchJobs. Errors are "
            "RFC 9457 application/problem+json.",
        },
        "paths": {**_paths(), **algorithms.openapi_paths(), **compat.openapi_paths()},
        "tags": [
            {"name": algorithms.TAG, "description": "The algorithm registry"},
            {
                "name": compat.TAG,
                "description": "The compatibility surface: the MiniAutoML training service's "
                "Train and GetTrainingStatus, for clients built for it",
            },
        ],
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


@bp.get("/openapi.json")
def openapi_json():
    return jsonify(document())
