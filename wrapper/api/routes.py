"""One declaration per route: its method and path, what it is for, its request body model, its
success response (status, model, headers) and its documented errors, in one decorator next to
the handler. The decorator registers the Flask route, serializes what the handler returns
through the declared response model, and records the declaration for the OpenAPI document
(`wrapper.api.openapi`), so the document cannot drift from the code.

A handler returns the response body (a dict or a model instance of the declared model), or
(body, headers), or a ready Flask Response (for non-JSON answers, and for an answer declared in
`other_replies`, which the handler serializes through that reply's model itself).
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps

from flask import Blueprint, Response, jsonify, request
from pydantic import BaseModel, ValidationError

from wrapper.api.errors import validation_error

# What each error status means on most routes; a route may phrase its own.
ERROR_TEXT = {
    400: "Malformed JSON",
    401: "Missing or invalid bearer token",
    403: "Not allowed with this token",
    404: "No such team or job (also for another team's team path or job)",
    409: "The job already finished",
    413: "Body larger than the configured limit (default 64 KiB)",
    415: "Body is not application/json",
    422: "Validation failed; `errors` names each bad field",
    429: "A team limit (`submissions.max_queued_jobs`, `submissions.per_minute`) is "
    "reached; nothing was queued; see Retry-After",
    503: "Redis (or, for /readyz, a dependency) is unavailable; see Retry-After. The problem "
    "`type` says whether anything changed: service-unavailable (nothing was), outcome-unknown or "
    "not-replicated (it may have been: retry with the same Idempotency-Key)",
}


class ResponseInvalid(Exception):
    """A handler's answer does not match the route's declared response model."""


def errors(*items: int | dict[int, str]) -> dict[int, str]:
    """Documented errors: a code (its usual text) or {code: the route's own text}."""
    out: dict[int, str] = {}
    for item in items:
        out.update(item if isinstance(item, dict) else {item: ERROR_TEXT[item]})
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class Reply:
    """The success response: status, description, and the model the body is serialized
    through (None: no JSON body is documented; `content` documents another media type)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    headers: dict | None = None
    content: dict | None = None


@dataclass(frozen=True)
class Route:
    method: str
    rule: str  # the Flask rule, blueprint prefix included (filled in when registered)
    summary: str
    reply: Reply
    errors: dict[int, str] = field(default_factory=dict)
    body: type[BaseModel] | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    params: tuple[dict, ...] = ()  # query and header parameters, as OpenAPI objects
    # Other documented success answers, which the handler builds itself as a ready Response
    # (e.g. a submission's dry run, 200 beside the 202): only the OpenAPI document reads them.
    other_replies: tuple[Reply, ...] = ()
    path_types: dict[str, dict] | None = None  # schema of a path parameter, if not from the rule
    public: bool = False  # no token needed


class Routes:
    """Declares a blueprint's routes; `declared(app)` lists every app's declarations."""

    def __init__(self, bp: Blueprint):
        self.bp = bp
        self.routes: list[Route] = []
        bp.record_once(lambda state: state.app.extensions.setdefault("trainq_routes", [])
                       .extend(self.routes))  # fmt: skip

    def route(self, method: str, rule: str, **declaration) -> Callable:
        prefix = self.bp.url_prefix or ""
        route = Route(method=method, rule=prefix + rule, **declaration)
        self.routes.append(route)

        # A route that takes query parameters refuses unknown ones: `?dryrun=true` must not
        # submit for real.
        query = {p["name"] for p in route.params if p["in"] == "query"}

        def decorate(handler: Callable) -> Callable:
            @wraps(handler)
            def view(*args, **kwargs):
                unknown = sorted(set(request.args) - query) if query else []
                if unknown:
                    raise validation_error(
                        [{"field": name, "message": "unknown query parameter"} for name in unknown]
                    )
                return respond(route.reply, handler(*args, **kwargs))

            self.bp.add_url_rule(rule, view_func=view, methods=[method.upper()])
            return handler

        return decorate

    def get(self, rule: str, **declaration) -> Callable:
        return self.route("get", rule, **declaration)

    def post(self, rule: str, **declaration) -> Callable:
        return self.route("post", rule, **declaration)

    def put(self, rule: str, **declaration) -> Callable:
        return self.route("put", rule, **declaration)

    def delete(self, rule: str, **declaration) -> Callable:
        return self.route("delete", rule, **declaration)


def respond(reply: Reply, result) -> Response:
    if isinstance(result, Response):
        return result
    body, headers = result if isinstance(result, tuple) else (result, {})
    if reply.model is not None:
        try:
            model = body if isinstance(body, reply.model) else reply.model.model_validate(body)
        except ValidationError as exc:
            # Our answer breaks our own schema: a bug (500, logged), not the client's 422.
            raise ResponseInvalid(f"{reply.model.__name__}: {exc}") from None
        response = Response(model.model_dump_json(), mimetype="application/json")
    else:
        response = jsonify(body)
    response.status_code = reply.status
    response.headers.update(headers)
    return response


def declared(app) -> list[Route]:
    return list(app.extensions.get("trainq_routes", []))
