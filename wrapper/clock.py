"""Timestamps as job records, the registry and the API show them: UTC ISO 8601 with
milliseconds ('2026-01-01T10:00:00.123Z'), and back to epoch seconds."""

import time
from datetime import UTC, datetime


def utcnow() -> str:
    return iso(time.time())


def iso(seconds: float) -> str:
    """Epoch seconds -> '2026-01-01T10:00:00.123Z'."""
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        + f".{int(seconds % 1 * 1000):03d}Z"
    )


def epoch(timestamp: str) -> float:
    """'2026-01-01T10:00:00.123Z' -> epoch seconds (UTC when no offset is given).
    fromisoformat: ~0.3 us against strptime's ~4.4 us (a status read computes run time)."""
    parsed = datetime.fromisoformat(timestamp)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()
