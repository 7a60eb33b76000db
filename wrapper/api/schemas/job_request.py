"""The body of a job submission (`JobRequest`) and the rules of its fields: Kubernetes names,
env names that trainq, the operator or the GPU runtime read, the label and annotation keys the
deployment allows (`pod_metadata`), and the deployment's upper bounds. Requests forbid unknown
fields and are strict (no "3" for 3). Checks that need the deployment's policy (allowed
images, key prefixes, upper bounds) read the config from the validation context, and those that
depend on the submitting team (CHECKPOINT_DIR when it has a checkpoint claim) its name:
`JobRequest.model_validate(body, context={"config": c, "team": name})`.
"""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from wrapper.config import PodMetadata, TrainqConfig
from wrapper.config.team import CHECKPOINT_ENV
from wrapper.config.types import DnsLabel, LabelValue, Quantity, checked
from wrapper.jobs.queues import PRIORITY_BOUND
from wrapper.validation import k8s_names as kubenames

RESERVED_ENV = frozenset(
    {
        # Set by the training operator.
        "MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK", "PYTHONUNBUFFERED",
        # Set by trainq.
        "JOB_ID", "TRAINING_DATASET_ID", "TRAINING_DATASET_VERSION_HASH",
    }
)  # fmt: skip
RESERVED_ENV_PREFIXES = ("PET_", "TRAINQ_")
# Read by the NVIDIA container runtime, not the program: NVIDIA_VISIBLE_DEVICES would expose
# a node's GPUs to a job that requested none (and that quota counts as using none).
GPU_RUNTIME_ENV_PREFIX = "NVIDIA_"
NAME_MAX = 40


def config_of(info: ValidationInfo) -> TrainqConfig | None:
    return (info.context or {}).get("config")


def reserved_env(name: str) -> str | None:
    """Why an env name cannot be given (shared with the MiniAutoML parameters), or None."""
    if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
        return "trainq or the training operator sets it"
    if name.startswith(GPU_RUNTIME_ENV_PREFIX):
        return (
            "the NVIDIA container runtime reads it, and it would expose GPUs the job did not "
            "request (GPUs are requested with resources.gpu)"
        )
    return None


def _env_name(name: str, info: ValidationInfo) -> str:
    message = kubenames.env_name(name)
    if message:
        raise ValueError(message)
    reason = reserved_env(name) or _team_env(name, info)
    if reason:
        raise ValueError(f"{name} cannot be given: {reason}")
    return name


def _team_env(name: str, info: ValidationInfo) -> str | None:
    """Why the submitting team's config reserves an env name (context "team"), or None."""
    cfg, team_name = config_of(info), (info.context or {}).get("team")
    team = cfg.team(team_name) if cfg and team_name else None
    if name == CHECKPOINT_ENV and team and team.checkpoints:
        return (f"team {team.name}'s checkpoint claim is mounted there (it names the job's "
                "own directory on the claim)")  # fmt: skip
    return None


def _metadata(info: ValidationInfo) -> PodMetadata:
    cfg = config_of(info)
    return cfg.pod_metadata if cfg else PodMetadata()  # no config: the strictest policy


def _label_key(key: str, info: ValidationInfo) -> str:
    message = kubenames.qualified_name(key)
    if message:
        raise ValueError(message)
    prefixes = _metadata(info).label_prefixes
    if kubenames.key_prefix(key) and not key.startswith(tuple(prefixes)):
        allowed = f"one of: {', '.join(prefixes)}" if prefixes else "none here"
        raise ValueError(
            f"label keys with a '<domain>/' prefix must start with an allowed prefix "
            f"(pod_metadata.label_prefixes: {allowed}); unprefixed keys are allowed"
        )
    return key


def _annotation_key(key: str, info: ValidationInfo) -> str:
    message = kubenames.qualified_name(key)
    if message:
        raise ValueError(message)
    prefixes = _metadata(info).annotation_prefixes
    if not key.startswith(tuple(prefixes)):
        allowed = f"one of: {', '.join(prefixes)}" if prefixes else "none here"
        raise ValueError(
            f"annotation keys must start with an allowed prefix "
            f"(pod_metadata.annotation_prefixes: {allowed})"
        )
    return key


EnvName = Annotated[str, AfterValidator(_env_name)]
LabelKey = Annotated[str, AfterValidator(_label_key)]
AnnotationKey = Annotated[str, AfterValidator(_annotation_key)]
Arg = Annotated[str, Field(max_length=16_384)]


class Body(BaseModel):
    """A request body: unknown fields refused, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ResourcesRequest(Body):
    """Per replica (the Master and each Worker get the same)."""

    cpu: Quantity | None = Field(default=None, description="Kubernetes quantity, e.g. '500m'")
    memory: Quantity | None = Field(default=None, description="Kubernetes quantity, e.g. '4Gi'")
    gpu: int | None = Field(default=None, ge=0, description="nvidia.com/gpu per replica")

    @field_validator("cpu", "memory")
    @classmethod
    def _quantity_bound(cls, v, info: ValidationInfo):
        cfg = config_of(info)
        limit = getattr(cfg.limits, f"max_{info.field_name}") if cfg else None
        if v and limit and kubenames.quantity(v) > kubenames.quantity(limit):
            raise ValueError(f"at most {limit} per replica")
        return v

    @field_validator("gpu")
    @classmethod
    def _gpu_bound(cls, v, info: ValidationInfo):
        cfg = config_of(info)
        if v is not None and cfg and v > cfg.limits.max_gpu:
            raise ValueError(f"at most {cfg.limits.max_gpu} per replica")
        return v


class Dataset(Body):
    id: str = Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    version_hash: str = Field(min_length=1, max_length=256, pattern=r"^[A-Za-z0-9._:+/=-]+$")
    # pydantic's (Rust) regexes and the JSON Schema shown in the spec read `$` as the end of
    # the text (no trailing newline, unlike Python's re); test_patterns checks it stays so.


# Request fields capped by the deployment's `limits` (field -> limits attribute).
_UPPER_BOUNDS = {
    "workers": "max_workers",
    "max_runtime_seconds": "max_runtime_seconds",
    "backoff_limit": "max_backoff_limit",
}


class JobRequest(Body):
    """Body of POST /v1/teams/{team}/jobs."""

    name: Annotated[str, checked(lambda v: kubenames.dns1035_label(v, max_len=NAME_MAX))] = Field(
        description=f"DNS-1035 label, at most {NAME_MAX} chars"
    )
    image: str | None = Field(
        default=None, min_length=1, max_length=1024, pattern=r"^[!-~]+$",  # printable ASCII
        description="Container image; give either this or `algorithm`",
    )  # fmt: skip
    algorithm: DnsLabel | None = Field(
        default=None,
        validate_default=True,
        description="A registered algorithm, resolved at submission to its current "
        "`image:version` (and default command); the spec keeps both",
    )
    command: list[Arg] | None = Field(default=None, max_length=256)
    args: list[Arg] | None = Field(default=None, max_length=1024)
    env: dict[EnvName, Annotated[str, Field(max_length=32_768)]] = Field(
        default_factory=dict, max_length=256
    )
    workers: int | None = Field(default=None, ge=0, description="Workers besides the Master")
    resources: ResourcesRequest | None = None
    priority: int = Field(default=0, ge=-PRIORITY_BOUND, le=PRIORITY_BOUND)
    max_runtime_seconds: int | None = Field(
        default=None, ge=1, description="runPolicy.activeDeadlineSeconds"
    )
    backoff_limit: int | None = Field(default=None, ge=0)
    restart_policy: Literal["OnFailure", "Never", "ExitCode"] | None = None
    dataset: Dataset | None = None
    labels: dict[LabelKey, LabelValue] = Field(default_factory=dict, max_length=64)
    annotations: dict[AnnotationKey, Annotated[str, Field(max_length=4096)]] = Field(
        default_factory=dict,
        max_length=64,
        description="Pod-template annotations, only under the deployment's "
        "pod_metadata.annotation_prefixes (locally trainq.dev/sim-*, read by the simulator)",
    )

    @field_validator("image")
    @classmethod
    def _allowed_image(cls, v: str, info: ValidationInfo):
        cfg = config_of(info)
        if v is not None and cfg and not v.startswith(tuple(cfg.images.allowed_prefixes)):
            allowed = ", ".join(cfg.images.allowed_prefixes)
            raise ValueError(f"image must start with one of: {allowed}")
        return v

    @field_validator("algorithm")
    @classmethod
    def _image_or_algorithm(cls, v, info: ValidationInfo):
        if "image" not in info.data:  # the image was invalid; that error names it
            return v
        if (info.data["image"] is None) == (v is None):
            raise ValueError("give either image or algorithm (a registered algorithm's name)")
        return v

    @field_validator("workers", "max_runtime_seconds", "backoff_limit")
    @classmethod
    def _upper_bound(cls, v, info: ValidationInfo):
        cfg = config_of(info)
        if v is not None and cfg:
            limit = getattr(cfg.limits, _UPPER_BOUNDS[info.field_name])
            if v > limit:
                raise ValueError(f"at most {limit}")
        return v

    def to_spec(self, config: TrainqConfig) -> dict:
        """The spec as submitted, with the deployment's defaults filled in."""
        d = config.defaults
        res = self.resources or ResourcesRequest()
        return {
            "name": self.name,
            "image": self.image,
            "command": self.command,
            "args": self.args,
            "env": dict(self.env),
            "workers": d.workers if self.workers is None else self.workers,
            "resources": {
                "cpu": res.cpu or d.resources.cpu,
                "memory": res.memory or d.resources.memory,
                "gpu": d.resources.gpu if res.gpu is None else res.gpu,
            },
            "priority": self.priority,
            "max_runtime_seconds": self.max_runtime_seconds or d.max_runtime_seconds,
            "backoff_limit": d.backoff_limit if self.backoff_limit is None else self.backoff_limit,
            "restart_policy": self.restart_policy or d.restart_policy,
            "dataset": self.dataset.model_dump() if self.dataset else None,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
        }
