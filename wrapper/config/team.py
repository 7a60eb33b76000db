"""A team's configuration: its namespace, weight, quota and borrowing limit, machine pool,
submission limits, webhooks."""

from typing import Literal

from pydantic import Field, model_validator

from wrapper.config.events import Webhook
from wrapper.config.types import DnsLabel, LabelKey, LabelValue, Quantity, Sha256Hex, _Strict


class Quota(_Strict):
    """What a team may hold at once; enforced by admission (docs/admission.md)."""

    max_running_jobs: int = Field(ge=0)
    cpu: Quantity
    memory: Quantity
    gpu: int = Field(ge=0)


class BorrowingLimit(_Strict):
    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: int | None = Field(default=None, ge=0)


class Toleration(_Strict):
    """A pod toleration, validated as the apiserver would."""

    key: LabelKey | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: LabelValue | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "Toleration":
        if self.operator == "Exists" and self.value:
            raise ValueError("value must be empty when operator is Exists")
        if self.key is None and self.operator != "Exists":
            raise ValueError("an empty key requires operator Exists")
        return self

    def pod_spec(self) -> dict:
        return self.model_dump(exclude_none=True)


class SubmissionLimits(_Strict):
    """What one team may put in front of everyone: Redis, the workers and the admission
    snapshot are shared, so a team's queued jobs and its submission rate are capped (429 with
    Retry-After beyond either), checked in the same Redis step that writes the job."""

    # Entries in the team's queue (queued jobs, and re-dispatches waiting at its front).
    max_queued_jobs: int = Field(default=10_000, ge=1)
    # A token bucket: `per_minute` submissions refilled evenly, at most `burst` at once
    # (default: one minute's worth). Dry runs and Idempotency-Key replays are not counted.
    per_minute: float = Field(default=600.0, gt=0)
    burst: int | None = Field(default=None, ge=1)

    @property
    def bucket_size(self) -> int:
        return self.burst or max(1, int(self.per_minute))


class Preemption(_Strict):
    """When this team's queued jobs may preempt running ones (docs/admission.md, Preemption).

    reclaim: take back capacity other teams borrowed, for a job that fits in this team's own
    quota (Any), only from jobs of lower priority than it (LowerPriority), or not (Never).
    within_team: a job may preempt this team's jobs of lower priority (LowerPriority) or not.
    min_runtime_seconds: a job admitted less than this long ago is not preempted."""

    reclaim: Literal["Any", "LowerPriority", "Never"] = "Any"
    within_team: Literal["LowerPriority", "Never"] = "Never"
    min_runtime_seconds: float = Field(default=60.0, ge=0)


# Where a replica finds its checkpoint directory; set by trainq when the team has a claim.
CHECKPOINT_ENV = "CHECKPOINT_DIR"


class Checkpoints(_Strict):
    """Storage for checkpoints that outlives a job's pods: the team's own PersistentVolumeClaim
    in its namespace (trainq mounts it, one subdirectory per job, and never creates or deletes
    it). Its replicas find their directory in CHECKPOINT_DIR."""

    claim: DnsLabel


class Alerts(_Strict):
    """The stalled-run alert (docs/observability.md): a running job that reported no progress
    (training metrics) for this long, or a non-finite loss, becomes a `job.stalled` event and
    shows on its record, once per stall. 0: off for no progress (a non-finite loss still
    alerts)."""

    stall_after_seconds: int = Field(default=900, ge=0)


class Team(_Strict):
    name: DnsLabel
    namespace: DnsLabel
    weight: float = Field(default=1.0, gt=0)
    quota: Quota
    borrowing_limit: BorrowingLimit | None = None
    token_sha256: list[Sha256Hex] = Field(min_length=1)
    # The team's machine pool: applied to every pod of its PyTorchJobs.
    node_selector: dict[LabelKey, LabelValue] = Field(default_factory=dict)
    tolerations: list[Toleration] = Field(default_factory=list)
    # Pods run with runAsNonRoot: true, so an image whose user is root (or unset) does not
    # start. `allow_root: true` is the explicit opt-out for a team whose images need root.
    allow_root: bool = False
    # This team's own submission limits (unset: the top-level `submissions`).
    submissions: SubmissionLimits | None = None
    preemption: Preemption = Preemption()
    checkpoints: Checkpoints | None = None
    alerts: Alerts = Alerts()
    # Completion webhooks (docs/observability.md): signed POSTs of the team's job events.
    webhooks: list[Webhook] = Field(default_factory=list)
    # What its jobs run as (docs/backends.md): the training operator's PyTorchJob, or Kubeflow
    # Trainer v2's TrainJob through `trainjob_runtime` (a ClusterTrainingRuntime).
    backend: Literal["pytorchjob", "trainjob"] = "pytorchjob"
    trainjob_runtime: DnsLabel = "torch-distributed"

    def pod_placement(self) -> dict:
        """The pod-spec fields the team's config sets on every pod: nodeSelector and
        tolerations (its pool), and with `allow_root` the securityContext that opts out of
        the builder's runAsNonRoot default."""
        placement: dict = {}
        if self.node_selector:
            placement["nodeSelector"] = dict(self.node_selector)
        if self.tolerations:
            placement["tolerations"] = [t.pod_spec() for t in self.tolerations]
        if self.allow_root:
            placement["securityContext"] = {"runAsNonRoot": False}
        return placement
