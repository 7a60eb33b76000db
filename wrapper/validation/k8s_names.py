"""Kubernetes naming and quantity rules, so bad input is refused at submit time (422) rather
than by the apiserver at dispatch time. Each checker returns an error message or None."""

import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from kubernetes.utils.quantity import parse_quantity

# The grammars, unanchored: compiled here for fullmatch (`re.match` with `$` would accept a
# trailing newline, which the apiserver refuses at dispatch, and which would slip past prefix
# checks), and shown anchored in the OpenAPI document (wrapper.api.schemas.rules).
DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1035_LABEL = r"[a-z]([-a-z0-9]*[a-z0-9])?"
KEY_NAME = r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
ENV_NAME = r"[-._a-zA-Z][-._a-zA-Z0-9]*"
# The pattern the CRDs' OpenAPI schemas use for resource quantities, but with an integer
# exponent (the only kind parse_quantity reads) of at most 3 digits (Decimal refuses some
# longer ones, and no resource comes near 1e999).
QUANTITY_SUFFIX = r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-9]{1,3}))?"
QUANTITY = r"(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))" + QUANTITY_SUFFIX
_DNS1123_LABEL = re.compile(DNS1123_LABEL)
_DNS1035_LABEL = re.compile(DNS1035_LABEL)
_QUALIFIED_NAME = re.compile(KEY_NAME)
_NAME_START = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]{0,62})?")
_LABEL_VALUE = re.compile(f"({KEY_NAME})?")
_ENV_NAME = re.compile(ENV_NAME)
_QUANTITY = re.compile(QUANTITY)


def dns1123_label(value: str) -> str | None:
    if len(value) > 63 or not _DNS1123_LABEL.fullmatch(value):
        return "must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 chars"
    return None


def dns1035_label(value: str, max_len: int = 63) -> str | None:
    if len(value) > max_len or not _DNS1035_LABEL.fullmatch(value):
        return (
            "must be a DNS-1035 label: lower-case letters, digits and '-', starting with a "
            f"letter, ending with a letter or digit, at most {max_len} chars"
        )
    return None


def dns1123_subdomain(value: str) -> str | None:
    parts = value.split(".")
    if len(value) > 253 or any(_DNS1123_LABEL.fullmatch(p) is None for p in parts):
        return "must be a DNS-1123 subdomain"
    return None


def qualified_name(key: str) -> str | None:
    """A label or annotation key: optional DNS subdomain prefix, '/', name of at most 63."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or dns1123_subdomain(prefix)):
        return "key prefix must be a DNS-1123 subdomain"
    if len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return (
            "key name must be at most 63 chars of letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def key_prefix(key: str) -> str:
    return key.rpartition("/")[0]


def key_name_start(value: str) -> str | None:
    """What a key name may start with ('' included): for allow-lists of key prefixes."""
    if not _NAME_START.fullmatch(value):
        return "must be the start of a key name: letters, digits, '-', '_' or '.'"
    return None


def label_value(value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.fullmatch(value):
        return (
            "label value must be at most 63 chars of letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def env_name(name: str) -> str | None:
    if not _ENV_NAME.fullmatch(name):
        return "must consist of letters, digits, '_', '-' or '.', and not start with a digit"
    return None


# Quantities this short are memoised (a submission parses its cpu and memory several times:
# validation, the never-fits check, admission); longer ones, which no real quantity is, are not,
# so no request can fill the cache with large strings. Decimal is immutable: safe to share.
_MEMO_MAX_LEN = 32


def quantity(value: str) -> Decimal:
    """Parse a Kubernetes quantity ('500m', '2', '16Gi'); ValueError when malformed."""
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '500m', '2', '16Gi')")
    if len(value) <= _MEMO_MAX_LEN:
        return _memo_quantity(value)
    return _parse_quantity(value)


@lru_cache(maxsize=4096)
def _memo_quantity(value: str) -> Decimal:
    return _parse_quantity(value)  # (an exception is raised again each time, never cached)


def _parse_quantity(value: str) -> Decimal:
    if not _QUANTITY.fullmatch(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '500m', '2', '16Gi')")
    try:
        return Decimal(parse_quantity(value))
    except (ValueError, InvalidOperation) as exc:
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from exc
