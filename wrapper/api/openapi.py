"""GET /openapi.json: the OpenAPI 3.1 document, generated from the route declarations
(`wrapper.api.routes`) and the pydantic models they name, so it cannot drift from the code:
every served route is declared, every body is validated and every answer serialized by the
model the document shows; the checkers' grammars and the deployment's policy are written into
the request schemas by `wrapper.api.rules`."""

import re

from flask import Blueprint, current_app, jsonify
from pydantic.json_schema import models_json_schema

from wrapper.api import rules
from wrapper.api.routes import Reply, Route, Routes, declared
from wrapper.api.schemas import Problem
from wrapper.api.services import services
from wrapper.config import TrainqConfig

REF = "#/components/schemas/{model}"
TAGS = {
    "algorithms": "The algorithm registry",
    "MiniAutoML compatibility": "The compatibility surface: the MiniAutoML training service's "
    "Train and GetTrainingStatus, for clients built for it",
}
_ARG = re.compile(r"<(?:(\w+):)?(\w+)>")
_TYPES = {"int": {"type": "integer"}}

bp = Blueprint("openapi", __name__)
routes = Routes(bp)


def _ref(model) -> dict:
    return {"$ref": REF.format(model=model.__name__)}


def _path(route: Route) -> tuple[str, list[dict]]:
    """The OpenAPI path of a Flask rule, and its path parameters."""
    params = []
    for converter, name in _ARG.findall(route.rule):
        schema = (route.path_types or {}).get(name) or _TYPES.get(converter, {"type": "string"})
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _ARG.sub(r"{\2}", route.rule), params


def _reply(reply: Reply) -> dict:
    out: dict = {"description": reply.description}
    if reply.model is not None:
        out["content"] = {"application/json": {"schema": _ref(reply.model)}}
    elif reply.content is not None:
        out["content"] = reply.content
    if reply.headers:
        out["headers"] = reply.headers
    return out


def _replies(route: Route) -> dict:
    """The success answers by status; two answers with one status (Train's 200 and its dry
    run's) are one response whose body is either model."""
    out: dict = {}
    for reply in (route.reply, *route.other_replies):
        doc, same = _reply(reply), out.get(str(reply.status))
        if same is not None:
            schemas = [c["application/json"]["schema"] for c in (same["content"], doc["content"])]
            doc = {**same, **doc, "description": f"{same['description']}; {doc['description']}",
                   "content": {"application/json": {"schema": {"oneOf": schemas}}}}  # fmt: skip
        out[str(reply.status)] = doc
    return out


def _operation(route: Route) -> dict:
    op: dict = {"summary": route.summary}
    if route.description:
        op["description"] = route.description
    if route.tags:
        op["tags"] = list(route.tags)
    if route.public:
        op["security"] = []
    if route.params:
        op["parameters"] = list(route.params)
    if route.body is not None:
        content = {"application/json": {"schema": _ref(route.body)}}
        op["requestBody"] = {"required": True, "content": content}
    problem = {"application/problem+json": {"schema": _ref(Problem)}}
    op["responses"] = {
        **_replies(route),
        **{str(code): {"description": text, "content": problem}
           for code, text in route.errors.items()},
    }  # fmt: skip
    return op


def _components(declarations: list[Route]) -> dict:
    models = {(Problem, "serialization")}
    for r in declarations:
        if r.body is not None:
            models.add((r.body, "validation"))
        for reply in (r.reply, *r.other_replies):
            if reply.model is not None:
                models.add((reply.model, "serialization"))
    ordered = sorted(models, key=lambda m: (m[0].__name__, m[1]))
    _, top = models_json_schema(ordered, ref_template=REF)
    return dict(top["$defs"])


def document(declarations: list[Route], config: TrainqConfig | None = None) -> dict:
    """The document; with `config`, the request schemas carry this deployment's rules."""
    paths: dict = {}
    for route in declarations:
        path, params = _path(route)
        item = paths.setdefault(path, {})
        if params:
            item["parameters"] = params
        item[route.method] = _operation(route)
    used = {t for r in declarations for t in r.tags}
    schemas = _components(declarations)
    if config is not None:
        rules.apply(schemas, config)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "trainq",
            "version": "1",
            "description": "Team-scoped queue in front of Kubeflow PyTorchJobs. Errors are "
            "RFC 9457 application/problem+json.",
        },
        "paths": paths,
        "tags": [{"name": n, "description": d} for n, d in TAGS.items() if n in used],
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


@routes.get("/openapi.json", summary="This document", public=True,
            reply=Reply(200, "OpenAPI 3.1"))  # fmt: skip
def openapi_json():
    ext = current_app.extensions
    if "trainq_openapi" not in ext:
        ext["trainq_openapi"] = document(declared(current_app), services().config)
    return jsonify(ext["trainq_openapi"])
