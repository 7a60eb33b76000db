"""Comparing a team's runs (pure): each run with what made it (image, algorithm and version,
the env it was given, the hyperparameters its trainer reported, dataset id and version hash,
the weights' sha256) and its final metrics; filtered by algorithm and dataset, sorted by a
record field or a final metric."""

import re

FIELDS = ("id", "submitted_at", "finished_at")
NON_FINITE = ("NaN", "Infinity", "-Infinity")
_KEY = re.compile(r"^(-?)([a-z][a-z0-9_]{0,63})$")


class BadSort(ValueError):
    """The sort key is not a record field nor a final metric of the runs."""


def run(record: dict, summary: dict) -> dict:
    spec = record.get("spec") or {}
    return {
        "id": record["id"],
        "name": record["name"],
        "status": record["status"],
        "submitted_at": record.get("submitted_at"),
        "finished_at": record.get("finished_at"),
        "image": spec.get("image"),
        "algorithm": spec.get("algorithm"),
        "dataset": spec.get("dataset"),
        "env": spec.get("env") or {},
        "hyperparameters": summary.get("hyperparameters"),
        "weights_sha256": summary.get("weights_sha256"),
        "final": summary.get("final"),
        "epochs_reported": summary.get("points") or 0,
    }


def matches(record: dict, algorithm: str | None, dataset_id: str | None) -> bool:
    spec = record.get("spec") or {}
    if algorithm is not None and (spec.get("algorithm") or {}).get("name") != algorithm:
        return False
    return dataset_id is None or (spec.get("dataset") or {}).get("id") == dataset_id


def parse_sort(raw: str, runs: list[dict]) -> tuple[str, bool]:
    """(key, descending). A metric key must be one some listed run reports (a typo would
    otherwise sort nothing, silently); with no runs any well-formed name passes."""
    m = _KEY.match(raw)
    metrics = sorted({k for r in runs for k in (r["final"] or {})})
    known = ", ".join([*FIELDS, *metrics])
    if not m:
        raise BadSort(f"must be [-]<key> with key one of: {known}")
    if m.group(2) not in FIELDS and runs and m.group(2) not in metrics:
        raise BadSort(f"no listed run reports {m.group(2)!r}; sort by one of: {known}")
    return m.group(2), m.group(1) == "-"


def sort(runs: list[dict], key: str, descending: bool) -> list[dict]:
    """Runs without the value (or with a non-finite one) go last either way."""

    def value(r: dict):
        v = r.get(key) if key in FIELDS else (r["final"] or {}).get(key)
        return v if isinstance(v, int | float | str) and v not in NON_FINITE else None

    have = [r for r in runs if value(r) is not None]
    missing = [r for r in runs if value(r) is None]
    return sorted(have, key=value, reverse=descending) + missing
