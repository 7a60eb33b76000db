"""A trainer's metrics report (`POST /v1/teams/{team}/jobs/{id}/metrics`), checked before it is
stored: pure. Bounds keep one job from filling Redis (docs/observability.md): at most
MAX_POINTS_PER_REPORT epoch points and MAX_VALUES metrics per point or final set, names of
MAX_NAME characters. JSON has no NaN or Infinity, so a non-finite value travels as the
string "NaN", "Infinity" or "-Infinity" (a diverged loss is what the stall alert wants to
hear about)."""

import math
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    WithJsonSchema,
    field_validator,
)

MAX_POINTS_PER_JOB = 1_000
MAX_POINTS_PER_REPORT = 100
MAX_VALUES = 32
MAX_NAME = 64
MAX_REPORTS_PER_SECOND = 10
MAX_BODY_BYTES = 64 * 1024
NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
# Which reported values count as a loss for the non-finite alert.
LOSS = re.compile(r"(^|_)loss($|_)")

MetricName = Annotated[str, StringConstraints(pattern=rf"^[a-z][a-z0-9_]{{0,{MAX_NAME - 1}}}$")]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
ParamValue = str | int | float | bool | None


def _value(value: Any) -> float:
    """A number (never a boolean), or a non-finite one by name."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"must be a number, or one of {', '.join(NON_FINITE)}")
    return float(value)


RawValue = Annotated[
    Any,
    AfterValidator(_value),
    WithJsonSchema({"oneOf": [{"type": "number"}, {"enum": list(NON_FINITE)}]}),
]


def _values(v: dict) -> dict:
    if len(v) > MAX_VALUES:
        raise ValueError(f"at most {MAX_VALUES} metrics")
    return v


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EpochPoint(_Strict):
    epoch: int = Field(ge=0, le=10_000_000, description="Epochs completed (1 after the first)")
    values: dict[MetricName, RawValue] = Field(
        description='e.g. {"train_loss": 0.41, "val_accuracy": 0.87}; non-finite as "NaN"'
    )

    @field_validator("values")
    @classmethod
    def _finite_or_named(cls, v: dict) -> dict:
        return _values(v)


class MetricsReport(_Strict):
    """Any of: epoch points (a point for an epoch already reported replaces it: a resumed
    trainer may send it again), the final metrics, what the run produced and ran with."""

    epochs: list[EpochPoint] = Field(default_factory=list, max_length=MAX_POINTS_PER_REPORT)
    final: dict[MetricName, RawValue] | None = Field(
        default=None, description="e.g. test_accuracy, test_f1_macro; replaces earlier finals"
    )
    weights_sha256: Sha256 | None = None
    hyperparameters: dict[MetricName, ParamValue] | None = Field(
        default=None, max_length=MAX_VALUES, description="What the trainer ran with"
    )

    @field_validator("final")
    @classmethod
    def _finite_or_named(cls, v: dict | None) -> dict | None:
        return None if v is None else _values(v)


def non_finite_loss(report: MetricsReport) -> dict | None:
    """The first non-finite loss in the report ({"epoch", "metric", "value"}), else None."""
    sets = [(p.epoch, p.values) for p in report.epochs] + [(None, report.final or {})]
    for epoch, values in sets:
        for name, value in values.items():
            if LOSS.search(name) and not math.isfinite(value):
                return {"epoch": epoch, "metric": name, "value": str(value)}
    return None


def encode(value: float) -> float | str:
    """A stored or answered value: JSON numbers, non-finite ones as their string."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
