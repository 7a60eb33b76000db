"""What the API answers about jobs and queues (documented in the OpenAPI document; each route
serializes its answer through one of these), and RFC 9457 problem details."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wrapper.api.schemas.runs import Stall
from wrapper.jobs.states import JobStatus


class ReplicaCounts(BaseModel):
    active: int
    succeeded: int
    failed: int


class Condition(BaseModel):
    type: str
    status: str
    reason: str | None = None
    message: str | None = None
    last_transition_time: str | None = None


class PyTorchJobRef(BaseModel):
    namespace: str
    name: str


PendingReason = Literal["WaitingForQuota", "WaitingForCapacity", "WaitingForHigherPriority",
                        "WaitingForFairShare", "BorrowingLimitReached", "WaitingForPlacement",
                        "ExceedsPoolCapacity", "WaitingForBackoff",
                        "WaitingForTeamQueue"]  # fmt: skip


class WebhookDelivery(BaseModel):
    """One attempt to deliver one of the job's events to one of its team's webhooks."""

    event_id: str = Field(description="The event's id (`Trainq-Event-Id`, the same on retries)")
    event: str = Field(description="Its type, e.g. job.succeeded")
    url: str
    attempt: int = Field(description="1 for the first attempt")
    time: str
    status_code: int | None = Field(description="The receiver's HTTP status (null: no answer)")
    error: str | None = Field(description="Why no answer came (timeout, refused, no secret)")
    outcome: Literal["delivered", "retrying", "failed"]
    next_attempt_at: str | None = Field(description="When it is retried (null: not again)")


class JobRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    team: str
    name: str
    status: JobStatus
    position: int | None = Field(
        description="0-based place in the team's admission order while queued"
    )
    global_position: int | None = Field(
        default=None, description="Estimated 0-based place among all teams (fair share)"
    )
    pending_reason: PendingReason | None = Field(
        default=None, description="Why a queued job waits (null: admissible now, or not queued)"
    )
    eta_seconds: float | None = Field(
        default=None, description="Estimated wait from the recent admission rate (null: unknown)"
    )
    reason: str | None
    message: str | None
    submitted_at: str
    admitted_at: str | None
    started_at: str | None
    finished_at: str | None
    spec: dict
    pytorchjob: PyTorchJobRef | None = Field(
        description="Its workload once created: the PyTorchJob, or the TrainJob (see backend)"
    )
    backend: Literal["pytorchjob", "trainjob"] | None = Field(
        default=None,
        description="What runs it: a PyTorchJob (Kubeflow training operator) or a TrainJob "
        "(Kubeflow Trainer v2), per its team's config; null until dispatched",
    )
    replicas: dict[Literal["Master", "Worker"], ReplicaCounts]
    conditions: list[Condition]
    suspended_at: str | None = Field(default=None, description="While suspended: since when")
    suspensions: int = Field(default=0, description="How many times its team suspended it")
    preemptions: int = Field(default=0, description="How many times it was preempted")
    run_seconds: float = Field(
        default=0.0, description="Time run across its admissions (preemptions, suspensions)"
    )
    stall: Stall | None = Field(
        default=None, description="The latest stalled-run alert (docs/observability.md)"
    )
    webhook_deliveries: list[WebhookDelivery] = Field(
        default_factory=list, description="Its events' webhook delivery attempts, newest last"
    )


class JobList(BaseModel):
    items: list[JobRecord]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


class Amounts(BaseModel):
    """null: no limit (a borrowing limit left unset for that resource)."""

    cpu: str | None = Field(description="Kubernetes quantity (cores)")
    memory: str | None = Field(description="Kubernetes quantity (bytes, e.g. '8Gi')")
    gpu: int | None


class QuotaView(Amounts):
    max_running_jobs: int


class UsageView(Amounts):
    jobs: int = Field(description="Admitted, unfinished jobs")


class QueuedJob(BaseModel):
    id: int
    name: str
    position: int | None = Field(description="0-based place in the team's admission order")
    global_position: int | None = Field(description="Estimated place among all teams")
    pending_reason: PendingReason | None = Field(description="null: admissible now")
    message: str
    eta_seconds: float | None
    priority: int
    submitted_at: str
    wait_seconds: float
    demand: Amounts = Field(description="The whole job: every replica's resources")


class TeamQueueSummary(BaseModel):
    team: str
    weight: float
    quota: QuotaView
    borrowing_limit: Amounts | None
    usage: UsageView = Field(description="Reserved by the team's admitted, unfinished jobs")
    borrowed: Amounts = Field(description="Usage above the quota")
    share: float = Field(description="Dominant-resource share of the cluster / weight")
    queued: int
    running: int = Field(description="Dispatched and not yet finished (incl. cancelling)")
    oldest_wait_seconds: float | None


class QueueView(TeamQueueSummary):
    jobs: list[QueuedJob] = Field(description="A page, in admission order")
    next_cursor: str | None = Field(description="`cursor` for the next page (null: the last)")


class NodeRoom(BaseModel):
    name: str
    allocatable: Amounts
    free: Amounts = Field(description="Allocatable less what pods request and admission reserved")
    free_pods: int


class PoolView(BaseModel):
    teams: list[str] = Field(description="The teams whose pods may use these nodes")
    nodes: list[NodeRoom]


class AllQueues(BaseModel):
    capacity: Amounts | None = Field(description="Schedulable allocatable, capped (null: unknown)")
    used: Amounts
    free: Amounts | None
    admission_rate_per_minute: float | None
    pools: list[PoolView] | None = Field(
        description="Per pool of nodes, its teams and each node's free room (null: the nodes' "
        "free room is not known yet)"
    )
    teams: list[TeamQueueSummary]


class DryRun(BaseModel):
    """A dry run's answer (`?dry_run=true` on a submission): where the job would land if it
    were submitted now. Nothing was written: no job id, no record, no queue entry."""

    team: str
    admissible_now: bool = Field(description="A worker would admit it at once")
    position: int = Field(description="0-based place in the team's admission order")
    global_position: int | None = Field(
        description="Estimated 0-based place among all teams (null: deeper in its team queue "
        "than admission looks)"
    )
    pending_reason: PendingReason | None = Field(
        description="Why it would wait (null: admissible now)"
    )
    message: str
    eta_seconds: float | None = Field(
        description="Estimated wait from the recent admission rate (null: unknown)"
    )
    placement: list[str] = Field(
        description="The node each replica would be counted on, one per replica (empty: not "
        "admissible now, or the nodes' free room is not known)"
    )
    demand: Amounts = Field(description="The whole job: every replica's resources")
    replicas: int = Field(description="1 Master + its Workers")


class FieldError(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (application/problem+json)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
