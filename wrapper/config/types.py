"""Shared types of trainq's configuration models: strict models, and the validated strings
(DNS labels, quantities, label keys and values, token hashes)."""

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from wrapper.validation import k8s_names as kubenames

RestartPolicy = Literal["OnFailure", "Never", "ExitCode"]


def checked(checker):
    """A pydantic validator from a checker that returns an error message (or None)."""

    def validate(value: str) -> str:
        message = checker(value)
        if message:
            raise ValueError(message)
        return value

    return AfterValidator(validate)


def _valid_quantity(value: str) -> str:
    if kubenames.quantity(value) <= 0:
        raise ValueError("must be greater than zero")
    return value


DnsLabel = Annotated[str, checked(kubenames.dns1123_label)]
Quantity = Annotated[str, AfterValidator(_valid_quantity)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="hex SHA-256 of a token")]
LabelKey = Annotated[str, checked(kubenames.qualified_name)]
LabelValue = Annotated[str, checked(kubenames.label_value)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
