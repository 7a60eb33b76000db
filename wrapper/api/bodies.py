"""Reading a request's JSON body and headers the same way on every route: 415 for a body that
is not JSON, 413 past `api.max_body_bytes`, 400 for malformed JSON (each surface may phrase it
its own way), 422 naming the field for a body that is not an object or a bad header."""

import json
from collections.abc import Callable

from flask import request

from wrapper.api.errors import ApiError, validation_error


def _malformed(detail: str) -> ApiError:
    return ApiError(400, "malformed-json", "Bad Request", detail)


def json_body(malformed: Callable[[str], ApiError] = _malformed, object_only: bool = True):
    """The parsed body. `malformed` builds the 400 for unparsable JSON; with `object_only` a
    body that is not a JSON object is a 422."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported-media-type", "Unsupported Media Type",
                       "Send the body as application/json.")  # fmt: skip
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise malformed(f"Malformed JSON: {exc}") from None
    if object_only and not isinstance(body, dict):
        raise validation_error([{"field": "(body)", "message": "must be a JSON object"}])
    return body


def idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not (1 <= len(key) <= 255) or not key.isascii() or not key.isprintable():
        raise validation_error(
            [{"field": "Idempotency-Key", "message": "1 to 255 printable ASCII characters"}]
        )
    return key
