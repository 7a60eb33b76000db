"""Paged listings: the `limit` and `cursor` query parameters (their OpenAPI entries and their
checks, 422 naming the parameter). A cursor is opaque to clients: the `next_cursor` of the
previous page."""

import re

from flask import request

from wrapper.api.errors import validation_error

_DIGITS = re.compile(r"[0-9]{1,19}")


def params(limit_max: int, limit_default: int) -> tuple[dict, dict]:
    return (
        {"name": "limit", "in": "query",
         "schema": {"type": "integer", "minimum": 1, "maximum": limit_max,
                    "default": limit_default}},
        {"name": "cursor", "in": "query", "description": "`next_cursor` of the previous page",
         "schema": {"type": "string", "pattern": "^0*[1-9][0-9]*$", "maxLength": 19}},
    )  # fmt: skip


def int_arg(name: str, low: int, high: int | None, default: int | None) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only: int() also takes signs, spaces, '_' and other Unicode digits.
    value = int(raw) if _DIGITS.fullmatch(raw) else None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"between {low} and {high}" if high else f"at least {low}"
        raise validation_error([{"field": name, "message": f"must be an integer {bounds}"}])
    return value


def limit_and_cursor(limit_max: int, limit_default: int) -> tuple[int, int | None]:
    limit = int_arg("limit", 1, limit_max, limit_default)
    return limit, int_arg("cursor", 1, None, None)
