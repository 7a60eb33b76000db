"""Kubernetes naming and quantity rules, so bad input is refused at submit time (422) rather
than by the apiserver at dispatch time. Each checker returns an error message or None."""

import re
from decimal import Decimal, InvalidOperation

from kubernetes.utils.quantity import parse_quantity

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
# The pattern the CRDs' OpenAPI schemas use for resource quantities.
_QUANTITY = re.compile(
    r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
)


def dns1123_label(value: str) -> str | None:
    if len(value) > 63 or not _DNS1123_LABEL.match(value):
        return "must be a DNS-1123 label: lower-case letters, digits and '-', at most 63 chars"
    return None


def dns1035_label(value: str, max_len: int = 63) -> str | None:
    if len(value) > max_len or not _DNS1035_LABEL.match(value):
        return (
            "must be a DNS-1035 label: lower-case letters, digits and '-', starting with a "
            f"letter, ending with a letter or digit, at most {max_len} chars"
        )
    return None


def dns1123_subdomain(value: str) -> str | None:
    parts = value.split(".")
    if len(value) > 253 or any(_DNS1123_LABEL.match(p) is None for p in parts):
        return "must be a DNS-1123 subdomain"
    return None


def qualified_name(key: str) -> str | None:
    """A label or annotation key: optional DNS subdomain prefix, '/', name of at most 63."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or dns1123_subdomain(prefix)):
        return "key prefix must be a DNS-1123 subdomain"
    if len(name) > 63 or not _QUALIFIED_NAME.match(name):
        return (
            "key name must be at most 63 chars of letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def key_prefix(key: str) -> str:
    return key.rpartition("/")[0]


def label_value(value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            "label value must be at most 63 chars of letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def env_name(name: str) -> str | None:
    if not _ENV_NAME.match(name):
        return "must consist of letters, digits, '_', '-' or '.', and not start with a digit"
    return None


def quantity(value: str) -> Decimal:
    """Parse a Kubernetes quantity ('500m', '2', '16Gi'); ValueError when malformed."""
    if not isinstance(value, str) or not _QUANTITY.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes quantity (e.g. '500m', '2', '16Gi')")
    try:
        return Decimal(parse_quantity(value))
    except (ValueError, InvalidOperation) as exc:
        raise ValueError(f"{value!r} is not a Kubernetes quantity") from exc
