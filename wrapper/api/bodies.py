"""Reading a request's JSON body and headers the same way on every route: 415 for a body that
is not JSON, 413 past `api.max_body_bytes`, 400 for malformed JSON (each surface may phrase it
its own way), 422 naming the field for a body that is not an object, nests too deeply, or a bad
header.

The parser is bounded so no body can crash it (a 500): nesting deeper than MAX_DEPTH is
refused before parsing (Python's json recurses, and raises RecursionError near depth 1,000),
and an integer longer than MAX_INT_DIGITS becomes a `LongInteger` that every field's own check
refuses, naming the field (Python's int() raises ValueError past 4,300 digits)."""

import json
import re
from collections.abc import Callable

from flask import request

from wrapper.api.errors import ApiError, validation_error

MAX_DEPTH = 32  # the deepest body any route takes (Train: metadata.parameters) is 3
MAX_INT_DIGITS = 64  # beyond every field's range; int() of it stays cheap
# A JSON string (with the colon after it when it is an object key) or a bracket. In valid
# JSON every '"' outside a string opens one, so brackets inside strings are never counted.
_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"(\s*:)?|[\[\]{}]')


class LongInteger:
    """A JSON integer of more than MAX_INT_DIGITS digits. No field accepts one (they take int,
    str or float), so the field's own check refuses it and names the field."""

    __slots__ = ("digits",)

    def __init__(self, text: str):
        self.digits = len(text.lstrip("-"))

    def __repr__(self) -> str:
        return f"<an integer of {self.digits} digits>"


def _int(text: str) -> int | LongInteger:
    return int(text) if len(text) <= MAX_INT_DIGITS else LongInteger(text)


def _number(text: str) -> int | float:
    """JSON has one number type: 2.0 and 2e0 are the integer 2, as JSON Schema reads them."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")  # json.loads accepts NaN and Infinity


def too_deep(text: str) -> str | None:
    """The top-level field (or '(body)') under which `text` nests past MAX_DEPTH, else None."""
    if text.count("{") + text.count("[") <= MAX_DEPTH:  # the common case: no scan
        return None
    depth, field = 0, "(body)"
    for m in _TOKEN.finditer(text):
        token = m.group()
        if token in ("{", "["):
            depth += 1
            if depth > MAX_DEPTH:
                return field
        elif token in ("}", "]"):
            depth -= 1
        elif m.group(1) and depth == 1:
            field = token[: m.start(1) - m.start()]
            try:
                field = json.loads(field)
            except ValueError:  # a bad escape: json.loads names it later
                field = field[1:-1]
    return None


def _malformed(detail: str) -> ApiError:
    return ApiError(400, "malformed-json", "Bad Request", detail)


def json_body(
    malformed: Callable[[str], ApiError] = _malformed,
    refused: Callable[[list[dict]], ApiError] = validation_error,
    object_only: bool = True,
):
    """The parsed body. `malformed` builds the 400 for unparsable JSON and `refused` the
    answer naming the field of JSON past the parser's bounds; with `object_only` a body that
    is not a JSON object is a 422."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise ApiError(415, "unsupported-media-type", "Unsupported Media Type",
                       "Send the body as application/json.")  # fmt: skip
    raw = request.get_data(cache=True)  # 413 past MAX_CONTENT_LENGTH
    try:
        text = raw.decode(json.detect_encoding(raw), "surrogatepass")  # as json.loads(bytes)
    except UnicodeDecodeError as exc:
        raise malformed(f"Malformed JSON: {exc}") from None
    field = too_deep(text)
    if field is not None:
        raise refused([{"field": field, "message": f"nested deeper than {MAX_DEPTH} levels"}])
    try:
        body = json.loads(text, parse_int=_int, parse_float=_number, parse_constant=_not_json)
    except RecursionError:  # too_deep counts exactly for valid JSON; kept as a backstop
        raise refused([{"field": "(body)", "message": "nested too deeply"}]) from None
    except ValueError as exc:  # json.JSONDecodeError too
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
