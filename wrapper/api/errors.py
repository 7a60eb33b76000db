"""Every error the API returns is RFC 9457 problem+json (the `Problem` model); this module is
the only place that builds one. Unexpected exceptions are logged with their traceback and
answered with a generic 500 (never a stack trace); Redis outages become 503."""

import logging

import pydantic
import redis.exceptions
from flask import Flask, Response
from werkzeug.exceptions import HTTPException

from wrapper.api.schemas.responses import Problem
from wrapper.jobs.store import NotReplicated, OutcomeUnknown, SubmissionLimited

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://trainq.dev/problems/"


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        errors: list[dict] | None = None,
        headers: dict | None = None,
    ):
        super().__init__(detail or title)
        self.status, self.slug, self.title, self.detail = status, slug, title, detail
        self.errors, self.headers = errors, headers or {}


def problem(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    errors: list[dict] | None = None,
    headers: dict | None = None,
) -> Response:
    try:
        body = Problem(type=TYPE_BASE + slug, title=title, status=status, detail=detail or None,
                       errors=errors)  # fmt: skip
    except pydantic.ValidationError:
        log.exception("a problem that breaks the Problem schema (status %s)", status)
        status, body = 500, Problem(type=TYPE_BASE + "internal-error",
                                    title="Internal Server Error", status=500)  # fmt: skip
    payload = body.model_dump_json(exclude_none=True)
    response = Response(payload, status=status, mimetype=PROBLEM_JSON)
    response.headers.update(headers or {})
    return response


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, "not-found", "Not Found", f"No such {what}.")


def validation_error(errors: list[dict], detail: str = "The request is invalid.") -> ApiError:
    return ApiError(422, "validation-error", "Unprocessable Content", detail, errors)


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        if part == "[key]":
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(body)"


_MESSAGES = {"extra_forbidden": "unknown field", "missing": "field required"}


def field_errors(exc: pydantic.ValidationError) -> list[dict]:
    errors = []
    for e in exc.errors(include_url=False):
        message = _MESSAGES.get(e["type"]) or e["msg"].removeprefix("Value error, ")
        errors.append({"field": _field(e["loc"]), "message": message})
    return errors


_SLUGS = {
    400: "bad-request",
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
}


def register(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return problem(exc.status, exc.slug, exc.title, exc.detail, exc.errors, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        headers = dict(exc.get_headers()) if exc.code == 405 else {}
        headers.pop("Content-Type", None)
        return problem(
            exc.code or 500,
            _SLUGS.get(exc.code or 500, "http-error"),
            exc.name,
            exc.description,
            headers=headers,
        )

    @app.errorhandler(pydantic.ValidationError)
    def _validation(exc: pydantic.ValidationError):
        return problem(422, "validation-error", "Unprocessable Content",
                       "The request is invalid.", field_errors(exc))  # fmt: skip

    @app.errorhandler(SubmissionLimited)
    def _limited(exc: SubmissionLimited):
        what = {"max_queued_jobs": f"at most {exc.limit} queued jobs per team",
                "per_minute": f"at most {exc.limit:g} submissions per minute per team"}  # fmt: skip
        return problem(
            429, "too-many-requests", "Too Many Requests",
            f"The team's limit on submissions is reached ({what[exc.exceeded]}, config "
            f"`submissions.{exc.exceeded}`); nothing was queued. Retry after "
            f"{exc.retry_after}s.",
            errors=[{"field": f"submissions.{exc.exceeded}", "message": "limit reached"}],
            headers={"Retry-After": str(exc.retry_after)},
        )  # fmt: skip

    @app.errorhandler(redis.exceptions.OutOfMemoryError)
    def _redis_full(exc: Exception):
        log.error("Redis refused a write (maxmemory reached): %s", exc)
        return problem(
            503, "store-full", "Service Unavailable",
            "The job store (Redis) is full (maxmemory reached); nothing was changed. Retry "
            "later; operators: see the trainq_redis_memory_* metrics.",
            headers={"Retry-After": "60"},
        )  # fmt: skip

    @app.errorhandler(OutcomeUnknown)
    def _outcome_unknown(exc: OutcomeUnknown):
        log.error("Redis lost while a submission was sent; its outcome is unknown: %s", exc)
        return problem(
            503, "outcome-unknown", "Service Unavailable",
            "The job store (Redis) became unavailable while the job was being submitted, and "
            "whether it was queued is unknown. Retry with the same Idempotency-Key to submit "
            "it at most once, or list the team's jobs first.",
            headers={"Retry-After": "5"},
        )  # fmt: skip

    @app.errorhandler(NotReplicated)
    def _not_replicated(exc: NotReplicated):
        log.error("a write was not acknowledged by enough Redis replicas in time: %s", exc)
        return problem(
            503, "not-replicated", "Service Unavailable",
            "The change was not confirmed by the job store's replicas in time, so it could be "
            "lost in a failover; it may or may not have been made. Retry (a submission with "
            "the same Idempotency-Key) to have it confirmed.",
            headers={"Retry-After": "2"},
        )  # fmt: skip

    @app.errorhandler(redis.exceptions.ConnectionError)
    @app.errorhandler(redis.exceptions.TimeoutError)
    def _redis_down(exc: Exception):
        log.error("Redis unavailable: %s", exc)
        return problem(
            503, "service-unavailable", "Service Unavailable",
            "The job store (Redis) is unavailable; nothing was changed. Retry later.",
            headers={"Retry-After": "5"},
        )  # fmt: skip

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return problem(500, "internal-error", "Internal Server Error",
                       "An unexpected error occurred; it has been logged.")  # fmt: skip
