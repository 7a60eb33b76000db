"""The body of a job submission (`JobRequest`) and the rules of its fields: Kubernetes names,
env names and label/annotation keys trainq or the operator reserve, and the deployment's upper
bounds. Requests forbid unknown fields and are strict (no "3" for 3). Checks that need the
deployment's policy (allowed images, upper bounds) read the config from the validation
context: `JobRequest.model_validate(body, context={"config": c})`.
"""

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from wrapper.config import DnsLabel, LabelValue, Quantity, TrainqConfig, checked
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
# Key prefixes users may not set: ours, the operator's, and Kubernetes' own (some of which,
# like AppArmor/seccomp annotations, would change a pod's security profile).
RESERVED_KEY_DOMAINS = ("trainq.dev", "kubeflow.org", "kubernetes.io", "k8s.io")
SIMULATOR_ANNOTATION = re.compile(r"^trainq\.dev/sim-[a-z0-9-]+$")
NAME_MAX = 40


def config_of(info: ValidationInfo) -> TrainqConfig | None:
    return (info.context or {}).get("config")


def _reserved_domain(key: str) -> bool:
    prefix = kubenames.key_prefix(key)
    return any(prefix == d or prefix.endswith("." + d) for d in RESERVED_KEY_DOMAINS)


def _env_name(name: str) -> str:
    message = kubenames.env_name(name)
    if message:
        raise ValueError(message)
    if name in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES):
        raise ValueError(f"{name} is set by trainq or the training operator and cannot be given")
    return name


def _label_key(key: str) -> str:
    message = kubenames.qualified_name(key)
    if message:
        raise ValueError(message)
    if _reserved_domain(key):
        raise ValueError(f"label keys under {', '.join(RESERVED_KEY_DOMAINS)} are reserved")
    if key == "app.kubernetes.io/managed-by":
        raise ValueError("app.kubernetes.io/managed-by is set by trainq")
    return key


def _annotation_key(key: str) -> str:
    message = kubenames.qualified_name(key)
    if message:
        raise ValueError(message)
    if _reserved_domain(key) and not SIMULATOR_ANNOTATION.match(key):
        raise ValueError(
            f"annotation keys under {', '.join(RESERVED_KEY_DOMAINS)} are reserved "
            "(except trainq.dev/sim-*, which drive the local cluster simulator)"
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
        default=None, min_length=1, max_length=1024, pattern=r"^[^\s]+$",
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
    priority: int = Field(default=0, ge=-1000, le=1000)
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
        description="Pod-template annotations; trainq.dev/sim-* drive the local simulator",
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
