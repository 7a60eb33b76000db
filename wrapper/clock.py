"""Timestamps as job records, the registry and the API show them: UTC ISO 8601 with
milliseconds ('2026-01-01T10:00:00.123Z'), and back to epoch seconds."""

import calendar
import time


def utcnow() -> str:
    return iso(time.time())


def iso(seconds: float) -> str:
    """Epoch seconds -> '2026-01-01T10:00:00.123Z'."""
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
        + f".{int(seconds % 1 * 1000):03d}Z"
    )


def epoch(timestamp: str) -> float:
    """'2026-01-01T10:00:00.123Z' -> epoch seconds."""
    whole, _, frac = timestamp.rstrip("Z").partition(".")
    return calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S")) + float(f"0.{frac or 0}")
