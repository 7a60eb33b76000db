"""What the API answers about a run's training metrics, the comparison of a team's runs, and
a job's stall alert (documented in the OpenAPI document; the routes serialize through these)."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wrapper.jobs.states import JobStatus

# A reported value: a JSON number, or a non-finite one as its name (JSON has no NaN).
Value = float | Literal["NaN", "Infinity", "-Infinity"]


class MetricsAccepted(BaseModel):
    points: int = Field(description="Epoch points the run holds now (at most 1,000)")


class EpochPoint(BaseModel):
    epoch: int
    values: dict[str, Value]


class NonFiniteLoss(BaseModel):
    epoch: int | None
    metric: str
    value: str


class RunMetrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    job_id: int
    status: JobStatus
    epochs: list[EpochPoint] = Field(description="Per-epoch values, by epoch")
    final: dict[str, Value] | None = Field(description="Final values (null: none reported)")
    weights_sha256: str | None
    hyperparameters: dict[str, str | int | float | bool | None] | None = Field(
        description="What the trainer reported it ran with"
    )
    reported_at: str | None = Field(description="When the trainer last reported")
    non_finite_loss: NonFiniteLoss | None = Field(description="The first non-finite loss seen")


class AlgorithmRef(BaseModel):
    name: str
    version: str


class DatasetRef(BaseModel):
    id: str
    version_hash: str


class Run(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    name: str
    status: JobStatus
    submitted_at: str | None
    finished_at: str | None
    image: str | None = Field(description="The image reference it ran")
    algorithm: AlgorithmRef | None = Field(description="The registered algorithm and version")
    dataset: DatasetRef | None
    env: dict[str, str] = Field(description="The env it was given (hyperparameters as submitted)")
    hyperparameters: dict[str, str | int | float | bool | None] | None = Field(
        description="What its trainer reported it ran with"
    )
    weights_sha256: str | None
    final: dict[str, Value] | None
    epochs_reported: int


class RunList(BaseModel):
    items: list[Run]
    scanned: int = Field(description="How many of the team's newest jobs were compared")


class Stall(BaseModel):
    reason: Literal["NoProgress", "NonFiniteLoss"]
    message: str
    since: str | None = Field(description="The last progress the stall is measured from")
    detected_at: str
