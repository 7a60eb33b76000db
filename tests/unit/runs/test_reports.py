"""A trainer's metrics report is checked before it is stored: names, values (non-finite ones by
name only), and the per-report bounds; a non-finite loss is found for the stall alert."""

import math

import pydantic
import pytest

from wrapper.api.errors import field_errors
from wrapper.runs import reports
from wrapper.runs.reports import MetricsReport


def test_a_report_with_epochs_final_and_provenance():
    r = MetricsReport.model_validate({
        "epochs": [{"epoch": 1, "values": {"train_loss": 0.5, "val_accuracy": 1}}],
        "final": {"test_accuracy": 0.9, "test_f1_macro": 0.88},
        "weights_sha256": "a" * 64, "hyperparameters": {"lr": 0.01, "optimizer": "adam"},
    })  # fmt: skip
    assert r.epochs[0].values == {"train_loss": 0.5, "val_accuracy": 1.0}
    assert r.final["test_accuracy"] == 0.9
    assert reports.non_finite_loss(r) is None


def test_non_finite_values_arrive_by_name_and_a_non_finite_loss_is_found():
    r = MetricsReport.model_validate(
        {"epochs": [{"epoch": 3, "values": {"train_loss": "NaN", "val_accuracy": "Infinity"}}]}
    )
    assert math.isnan(r.epochs[0].values["train_loss"])
    assert reports.non_finite_loss(r) == {"epoch": 3, "metric": "train_loss", "value": "nan"}
    # val_accuracy is not a loss: a non-finite one alone is stored, not alerted on.
    r = MetricsReport.model_validate({"final": {"val_accuracy": "-Infinity"}})
    assert reports.non_finite_loss(r) is None
    assert [reports.encode(v) for v in (math.nan, math.inf, -math.inf, 1.5)] == [
        "NaN", "Infinity", "-Infinity", 1.5]  # fmt: skip


def fields(body: dict) -> list[str]:
    with pytest.raises(pydantic.ValidationError) as exc:
        MetricsReport.model_validate(body)
    return [e["field"] for e in field_errors(exc.value)]  # as the API's 422 names them


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"epochs": [{"epoch": 1, "values": {"Train Loss": 1}}]}, "epochs[0].values.Train Loss"),
        ({"epochs": [{"epoch": -1, "values": {}}]}, "epochs[0].epoch"),
        ({"epochs": [{"epoch": 1, "values": {"loss": "nan"}}]}, "epochs[0].values.loss"),
        ({"epochs": [{"epoch": 1, "values": {"loss": True}}]}, "epochs[0].values.loss"),
        ({"final": {f"m{i}": 1 for i in range(reports.MAX_VALUES + 1)}}, "final"),
        ({"epochs": [{"epoch": i, "values": {}} for i in range(101)]}, "epochs"),
        ({"weights_sha256": "ABC"}, "weights_sha256"),
        ({"extra": 1}, "extra"),
        ({"final": {"x" * 65: 1}}, "final." + "x" * 65),
    ],
)
def test_bad_reports_name_the_field(body, field):
    assert field in fields(body)
