"""Bodies and answers of the algorithm registry (/v1/algorithms)."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, ValidationInfo, field_validator

from wrapper.api.schemas.job_request import Arg, Body, config_of
from wrapper.config.types import DnsLabel
from wrapper.validation import image_refs


def _repository(image: str) -> str:
    message = image_refs.repository(image)
    if message:
        raise ValueError(message)
    return image


def _tag(version: str) -> str:
    message = image_refs.tag(version)
    if message:
        raise ValueError(message)
    return version


Repository = Annotated[str, AfterValidator(_repository)]
Version = Annotated[str, AfterValidator(_tag)]


class _AlgorithmVersionBody(Body):
    image: Repository = Field(
        description="Image repository without tag (jobs run `image:version`); "
        "must start with one of `images.allowed_prefixes`"
    )
    version: Version = Field(description="The version, used as the image tag")
    command: list[Arg] | None = Field(
        default=None,
        max_length=256,
        description="Default container command of jobs that name the algorithm and give none",
    )

    @field_validator("image")
    @classmethod
    def _allowed_image(cls, v: str, info: ValidationInfo):
        cfg = config_of(info)
        message = cfg and image_refs.allowed(v, cfg.images.allowed_prefixes)
        if message:
            raise ValueError(message)
        return v


class AlgorithmCreate(_AlgorithmVersionBody):
    """Body of POST /v1/algorithms."""

    name: DnsLabel = Field(description="DNS-1123 label, e.g. 'intent-classification'")
    description: str = Field(default="", max_length=1024)


class AlgorithmUpdate(_AlgorithmVersionBody):
    """Body of PUT /v1/algorithms/{name}: publishes `version`. Without `command` the current
    version's command carries over."""


class AlgorithmVersion(BaseModel):
    version: str
    image: str
    image_ref: str = Field(description="What jobs run: image:version")
    command: list[str] | None
    published_by: str = Field(description="'admin', or 'config' for start-up registration")
    published_at: str


class AlgorithmSummary(BaseModel):
    name: str
    description: str
    version: str = Field(description="The current version")
    image: str
    image_ref: str
    command: list[str] | None
    created_by: str
    created_at: str
    updated_by: str
    updated_at: str


class Algorithm(AlgorithmSummary):
    history: list[AlgorithmVersion] = Field(description="Every publication, oldest first")


class AlgorithmList(BaseModel):
    items: list[AlgorithmSummary] = Field(description="By name")
