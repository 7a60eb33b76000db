"""Comparing runs: each with what made it; filters; sort keys checked (a typo is a 422, not a
silent no-op); runs without the value last in either direction."""

import pytest

from wrapper.runs import comparison


def record(job_id, algorithm="intent", dataset="d1", **extra):
    spec = {"image": "ghcr.io/x:1", "env": {"LR": "0.1"},
            "algorithm": {"name": algorithm, "version": "0.1.0"},
            "dataset": {"id": dataset, "version_hash": "h"}}  # fmt: skip
    submitted = f"2026-01-0{job_id}T00:00:00.000Z"
    return {"id": job_id, "name": f"j{job_id}", "status": "succeeded", "spec": spec,
            "submitted_at": submitted, "finished_at": None, **extra}  # fmt: skip


def summary(acc=None):
    return {"final": None if acc is None else {"test_accuracy": acc}, "weights_sha256": "f" * 64,
            "hyperparameters": {"lr": 0.1}, "points": 3}  # fmt: skip


def test_a_run_shows_what_made_it():
    run = comparison.run(record(1), summary(0.9))
    assert run["image"] == "ghcr.io/x:1" and run["algorithm"]["version"] == "0.1.0"
    assert run["dataset"] == {"id": "d1", "version_hash": "h"}
    assert run["env"] == {"LR": "0.1"} and run["hyperparameters"] == {"lr": 0.1}
    assert run["weights_sha256"] == "f" * 64 and run["epochs_reported"] == 3


def test_filters():
    assert comparison.matches(record(1), "intent", "d1")
    assert not comparison.matches(record(1), "other", None)
    assert not comparison.matches(record(1), None, "d2")
    assert comparison.matches({"id": 1, "spec": {}}, None, None)


def test_sort_by_a_final_metric_with_missing_values_last():
    runs = [comparison.run(record(i), summary(acc)) for i, acc in ((1, 0.5), (2, None), (3, 0.9))]
    key, desc = comparison.parse_sort("-test_accuracy", runs)
    assert [r["id"] for r in comparison.sort(runs, key, desc)] == [3, 1, 2]
    assert [r["id"] for r in comparison.sort(runs, key, False)] == [1, 3, 2]
    assert [r["id"] for r in comparison.sort(runs, *comparison.parse_sort("-id", runs))] == [
        3, 2, 1]  # fmt: skip


@pytest.mark.parametrize("bad", ["-test_acuracy", "Test", "--id", "", "id;drop"])
def test_unknown_or_malformed_sort_keys_are_refused(bad):
    runs = [comparison.run(record(1), summary(0.5))]
    with pytest.raises(comparison.BadSort, match="test_accuracy"):
        comparison.parse_sort(bad, runs)


def test_any_well_formed_metric_passes_when_there_are_no_runs():
    assert comparison.parse_sort("-test_accuracy", []) == ("test_accuracy", True)
