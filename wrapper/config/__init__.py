"""trainq's configuration: the pydantic-validated YAML file named by TRAINQ_CONFIG, plus the
few process settings that come from the environment (REDIS_URL, the REDIS_SENTINEL* and
REDIS_*ACK* ones, KUBECONFIG).

A bad file stops the process with a message naming the bad key (`ConfigError`)."""

import os
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, Field, ValidationError, model_validator

from wrapper.config.events import EventSettings
from wrapper.config.team import SubmissionLimits, Team
from wrapper.config.types import (
    DnsLabel,
    Quantity,
    RestartPolicy,
    Sha256Hex,
    _Strict,
    checked,
)
from wrapper.validation import image_refs as imagerefs
from wrapper.validation import k8s_names as kubenames


class Resources(_Strict):
    cpu: Quantity
    memory: Quantity
    gpu: int = Field(default=0, ge=0)


class Defaults(_Strict):
    workers: int = Field(default=0, ge=0)
    resources: Resources = Resources(cpu="1", memory="2Gi", gpu=0)
    max_runtime_seconds: int = Field(default=86_400, ge=1)
    backoff_limit: int = Field(default=3, ge=0)
    restart_policy: RestartPolicy = "OnFailure"


class Limits(_Strict):
    max_workers: int = Field(default=32, ge=0, le=999)  # keeps pod names <= 63 chars
    max_cpu: Quantity = "32"
    max_memory: Quantity = "256Gi"
    max_gpu: int = Field(default=8, ge=0)
    max_runtime_seconds: int = Field(default=7 * 86_400, ge=1)
    max_backoff_limit: int = Field(default=20, ge=0)


class Images(_Strict):
    allowed_prefixes: list[Annotated[str, Field(min_length=1)]] = Field(min_length=1)


def _key_prefix(prefix: str) -> str:
    domain, slash, name_start = prefix.partition("/")
    if not slash or kubenames.dns1123_subdomain(domain) or kubenames.key_name_start(name_start):
        raise ValueError(
            "must be '<DNS subdomain>/' optionally followed by the start of a key name, "
            "e.g. 'example.com/' or 'trainq.dev/sim-'"
        )
    return prefix


KeyPrefix = Annotated[str, AfterValidator(_key_prefix)]


class PodMetadata(_Strict):
    """Which pod label and annotation keys a job request may set: an allow-list, because
    other controllers act on keys of their own (Multus networks, CRI-O devices, service-mesh
    injection, Kueue queues) and change how a pod runs or is admitted. A key is allowed when
    it starts with one of the prefixes; trainq's own labels always win over a job's."""

    # Unprefixed label keys ('project') are always allowed; prefixed ones only under these.
    label_prefixes: list[KeyPrefix] = Field(default_factory=list)
    # Annotations are allowed only under these (none by default).
    annotation_prefixes: list[KeyPrefix] = Field(default_factory=list)


class ApiSettings(_Strict):
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    idempotency_ttl_seconds: int = Field(default=86_400, ge=60)


class DispatchSettings(_Strict):
    # A job stuck in `dispatching` past its lease (a worker died) is re-dispatched.
    lease_seconds: int = Field(default=20, ge=2, le=300)
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    # Foreground: the PyTorchJob disappears only once its pods are gone, so `cancelled`
    # means the team's resources are released.
    cancel_propagation: Literal["Foreground", "Background"] = "Foreground"
    # Transient apiserver errors are retried (with the backoff above) for this long after the
    # first one; then the job fails with the last error. A slow apiserver is not a failure
    # before that.
    retry_budget_seconds: float = Field(default=600.0, gt=0)
    # Replicas get this long between SIGTERM and SIGKILL (a suspension, a cancellation): time
    # for a trainer to write a checkpoint (terminationGracePeriodSeconds of every pod).
    termination_grace_seconds: int = Field(default=30, ge=0, le=3600)
    # Where a team's checkpoint claim is mounted in every replica (CHECKPOINT_DIR).
    checkpoint_path: Annotated[str, Field(pattern=r"^/[A-Za-z0-9._/-]*$")] = "/checkpoints"
    # The API's base URL as the training pods reach it: every replica then gets
    # TRAINQ_METRICS_URL and its job's TRAINQ_METRICS_TOKEN to report training metrics
    # (docs/observability.md). Unset: no channel (trainers that do not report are unaffected).
    metrics_url: Annotated[str, Field(pattern=r"^https?://[^\s/?#]+(/[^\s?#]*)?$")] | None = None


class RetentionSettings(_Strict):
    """How long finished jobs are kept (swept by the watcher: queue_workers.watcher.retention).
    A finished job's PyTorchJob is deleted first (its final status stays in the record), so
    it never outlives the record that owns it."""

    # The record and its index entries (team list, Idempotency-Key, submission nonce).
    finished_seconds: int = Field(default=30 * 86_400, ge=60)
    # The finished job's PyTorchJob (and so its pods and their logs) in the cluster.
    pytorchjob_seconds: int = Field(default=86_400, ge=0)

    @model_validator(mode="after")
    def _pytorchjob_first(self) -> "RetentionSettings":
        if self.pytorchjob_seconds > self.finished_seconds:
            raise ValueError("pytorchjob_seconds must not exceed finished_seconds (a "
                             "PyTorchJob without its record could not be cleaned up)")  # fmt: skip
        return self


class WatcherSettings(_Strict):
    """Leader election among watcher replicas (queue_workers.watcher.leader), on a
    coordination.k8s.io Lease. A standby takes over at most lease_seconds + 2 x retry_seconds
    after the leader's last renewal (it counts from when it saw the Lease change, its own
    clock); a leader that could not renew for renew_seconds exits, before any standby may
    take over. client-go's defaults are 15/10/2: these are shorter so a failover ends well
    inside 15 s."""

    lease_seconds: int = Field(default=8, ge=2, le=300)
    renew_seconds: float = Field(default=6.0, gt=0)
    retry_seconds: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> "WatcherSettings":
        if not self.retry_seconds < self.renew_seconds < self.lease_seconds:
            raise ValueError("need retry_seconds < renew_seconds < lease_seconds (a leader "
                             "must give up before a standby may take over)")  # fmt: skip
        return self


class AlgorithmConfig(_Strict):
    """An algorithm the API registers at start-up: created if the registry lacks it, and
    `version` published if the registry has never seen that version
    (see wrapper.algorithms.registry)."""

    name: DnsLabel
    image: Annotated[str, checked(imagerefs.repository)]
    version: Annotated[str, checked(imagerefs.tag)]
    description: str = Field(default="", max_length=1024)
    # The container command of jobs that name the algorithm and give no command of their own.
    command: list[str] | None = None


class CapacityCap(_Strict):
    """Upper bounds on the cluster capacity admission may hand out (unset: no bound)."""

    cpu: Quantity | None = None
    memory: Quantity | None = None
    gpu: int | None = Field(default=None, ge=0)


class AdmissionSettings(_Strict):
    capacity_cap: CapacityCap | None = None
    # Best-effort FIFO within a team until the head job has waited this long; then it holds
    # the next free capacity and no job of its team passes it.
    head_wait_seconds: float = Field(default=120.0, ge=0)
    # Queued jobs per team a worker considers for one decision (like Kueue's lookback).
    lookahead: int = Field(default=500, ge=1)
    # Within a priority, a job is placed as if submitted this many seconds earlier per gpu it
    # asks (0: first come, first served): large gangs go first and small jobs fill the holes
    # they leave (wrapper.admission.ordering, docs/admission.md).
    size_credit_seconds: float = Field(default=0.0, ge=0)
    # Recent admissions counted for ETAs.
    eta_window_seconds: int = Field(default=600, ge=10)
    # Guard against the scheduler placing a gang differently from admission (Kueue's
    # waitForPodsReady): a dispatched job whose replicas are not all running this long after
    # admission is suspended and re-queued, not admitted again for a backoff (doubling per
    # re-queue, capped), and failed after `pods_ready_requeues` re-queues.
    pods_ready_timeout_seconds: float = Field(default=300.0, gt=0)
    pods_ready_backoff_seconds: float = Field(default=30.0, gt=0)
    pods_ready_backoff_max_seconds: float = Field(default=600.0, gt=0)
    pods_ready_requeues: int = Field(default=3, ge=0)
    # "nodes": a job is admitted only when every replica fits on some node now (needs the
    # watcher's node and pod cache). "sums": the pre-placement policy, totals only (a gang can
    # start half-placed); kept to measure what placement buys (benchmarks) and for clusters
    # whose pods trainq may not list.
    placement: Literal["nodes", "sums"] = "nodes"


class TrainqConfig(_Strict):
    # Names PyTorchJobs `<instance>-<job id>`; must be unique per cluster (tests use their own).
    instance: Annotated[str, checked(lambda v: kubenames.dns1035_label(v, max_len=20))] = "tq"
    teams: list[Team] = Field(min_length=1)
    admin_token_sha256: list[Sha256Hex] = Field(default_factory=list)
    images: Images
    defaults: Defaults = Defaults()
    limits: Limits = Limits()
    api: ApiSettings = ApiSettings()
    dispatch: DispatchSettings = DispatchSettings()
    admission: AdmissionSettings = AdmissionSettings()
    pod_metadata: PodMetadata = PodMetadata()
    submissions: SubmissionLimits = SubmissionLimits()
    retention: RetentionSettings = RetentionSettings()
    watcher: WatcherSettings = WatcherSettings()
    events: EventSettings = EventSettings()
    algorithms: list[AlgorithmConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _algorithms_consistent(self) -> "TrainqConfig":
        names = [a.name for a in self.algorithms]
        if len(set(names)) != len(names):
            raise ValueError("algorithms: names must be unique")
        for a in self.algorithms:
            problem = imagerefs.allowed(a.image, self.images.allowed_prefixes)
            if problem:
                raise ValueError(f"algorithms: {a.name}: {problem} (images.allowed_prefixes)")
        return self

    @model_validator(mode="after")
    def _consistent(self) -> "TrainqConfig":
        names = [t.name for t in self.teams]
        if len(set(names)) != len(names):
            raise ValueError("teams: team names must be unique")
        namespaces = [t.namespace for t in self.teams]
        if len(set(namespaces)) != len(namespaces):
            raise ValueError("teams: namespaces must be unique")
        hashes = [h for t in self.teams for h in t.token_sha256] + self.admin_token_sha256
        if len(set(hashes)) != len(hashes):
            raise ValueError("token_sha256: a token may belong to one team or admin only")
        d, lim = self.defaults, self.limits
        if d.workers > lim.max_workers:
            raise ValueError("defaults.workers exceeds limits.max_workers")
        if kubenames.quantity(d.resources.cpu) > kubenames.quantity(lim.max_cpu):
            raise ValueError("defaults.resources.cpu exceeds limits.max_cpu")
        if kubenames.quantity(d.resources.memory) > kubenames.quantity(lim.max_memory):
            raise ValueError("defaults.resources.memory exceeds limits.max_memory")
        if d.resources.gpu > lim.max_gpu:
            raise ValueError("defaults.resources.gpu exceeds limits.max_gpu")
        if d.max_runtime_seconds > lim.max_runtime_seconds:
            raise ValueError("defaults.max_runtime_seconds exceeds limits.max_runtime_seconds")
        if d.backoff_limit > lim.max_backoff_limit:
            raise ValueError("defaults.backoff_limit exceeds limits.max_backoff_limit")
        return self

    @cached_property
    def _teams_by_name(self) -> dict[str, Team]:
        return {t.name: t for t in self.teams}

    @cached_property
    def token_owners(self) -> dict[str, str | None]:
        """Token hash -> team name (None: admin); one dict lookup per request at any team count."""
        owners: dict[str, str | None] = {h: t.name for t in self.teams for h in t.token_sha256}
        owners.update({h: None for h in self.admin_token_sha256})
        return owners

    def team(self, name: str) -> Team | None:
        return self._teams_by_name.get(name)

    def submission_limits(self, team: str) -> SubmissionLimits:
        own = self._teams_by_name[team].submissions
        return own if own is not None else self.submissions


class ConfigError(Exception):
    """The configuration file is missing, unreadable or invalid; the message names the key."""


def _loc(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def load_config(path: str | os.PathLike) -> TrainqConfig:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level must be a mapping")
    try:
        return TrainqConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [f"{_loc(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise ConfigError(f"{path}: invalid configuration:\n  " + "\n  ".join(lines)) from None


@dataclass(frozen=True)
class Settings:
    """Process settings from the environment (not per-deployment policy, which is the YAML)."""

    config_path: str
    redis_url: str
    kubeconfig: str | None  # None: the client's default chain (in-cluster, ~/.kube/config)
    # Sentinel mode ("host:port", ...): the primary of `redis_sentinel_master` is asked of
    # them, so every process follows a failover. Empty: REDIS_URL names the one Redis.
    redis_sentinels: tuple[str, ...] = ()
    redis_sentinel_master: str = "trainq"
    # Replicas that must hold a submission (Redis WAIT) before the API acknowledges it.
    redis_replicas_acked: int = 0
    redis_ack_timeout_ms: int = 1000

    @property
    def redis_target(self) -> tuple[str, tuple[str, ...], str]:
        """The arguments of `wrapper.redis.connect`, for every process alike."""
        return self.redis_url, self.redis_sentinels, self.redis_sentinel_master


def settings_from_env() -> Settings:
    config_path = os.environ.get("TRAINQ_CONFIG")
    if not config_path:
        raise ConfigError("TRAINQ_CONFIG is not set (path of trainq's YAML configuration)")
    sentinels = os.environ.get("REDIS_SENTINELS", "")
    return Settings(
        config_path=config_path,
        redis_url=os.environ.get("REDIS_URL", "redis://127.0.0.1:6390/0"),
        kubeconfig=os.environ.get("KUBECONFIG") or None,
        redis_sentinels=tuple(s.strip() for s in sentinels.split(",") if s.strip()),
        redis_sentinel_master=os.environ.get("REDIS_SENTINEL_MASTER") or "trainq",
        redis_replicas_acked=_env_int("REDIS_MIN_REPLICAS_ACKED", 0, 0),
        redis_ack_timeout_ms=_env_int("REDIS_ACK_TIMEOUT_MS", 1000, 1),
    )


def _env_int(name: str, default: int, least: int) -> int:
    raw = os.environ.get(name) or str(default)
    if not raw.isdigit() or int(raw) < least:
        raise ConfigError(f"{name} must be an integer >= {least}, got {raw!r}")
    return int(raw)


def load_or_exit() -> tuple[Settings, TrainqConfig]:
    """For process entry points: a bad configuration stops the process with a clear message."""
    try:
        settings = settings_from_env()
        return settings, load_config(settings.config_path)
    except ConfigError as exc:
        print(f"trainq: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
