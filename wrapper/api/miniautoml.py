"""The MiniAutoML training-service protocol (`Train`, `GetTrainingStatus`) as plain functions
over plain data: request parsing in the seed's validation order and words, the job a `Train`
request becomes, and the status answer a job record gives. No I/O; `wrapper.api.train` serves it.

Protobuf's JSON mapping is followed where the seed's clients depend on it: a field may be
spelled as in the .proto (`dataset_id`) or in lowerCamelCase (`datasetId`), an empty string is
the same as an absent field, and an int32 may arrive as a number or a numeric string.
"""

import re
from typing import Literal

from pydantic import BaseModel, Field

from wrapper.api.schemas import NAME_MAX, reserved_env
from wrapper.jobs.states import JobStatus
from wrapper.validation import k8s_names as kubenames

# TrainingJobMetadata, in .proto order: (proto name, lowerCamelCase JSON name).
FIELDS = (
    ("algorithm", "algorithm"),
    ("dataset_id", "datasetId"),
    ("name", "name"),
    ("train_data_version_hash", "trainDataVersionHash"),
    ("parameters", "parameters"),
    ("output_model_name", "outputModelName"),
)
# The seed's Train checks these, in this order, each with `"<camelName>" is required.`
REQUIRED = ("output_model_name", "dataset_id", "train_data_version_hash", "algorithm")
PARALLEL_INSTANCES = "PARALLEL_INSTANCES"
# The variables the seed set from the request; trainq sets them the same way (JOB_ID and the
# dataset pair through the job record, these two through the env).
FROM_METADATA = {"ALGORITHM_NAME": "algorithm", "MODEL_NAME": "output_model_name"}
STATUS = {
    JobStatus.QUEUED: "queuing",
    JobStatus.SUSPENDED: "queuing",
    JobStatus.DISPATCHING: "launch",
    JobStatus.CREATED: "launch",
    JobStatus.RUNNING: "running",
    JobStatus.RESTARTING: "running",
    JobStatus.SUCCEEDED: "succeed",
    JobStatus.FAILED: "failure",
    # Cancellation is decided; the seed had none, and a client waiting for succeed/failure
    # must not wait on a job that will never succeed.
    JobStatus.CANCELLING: "failure",
    JobStatus.CANCELLED: "failure",
}
_INT32_MAX = 2**31 - 1
# ASCII digits only, matched whole (no surrounding space): str.isdigit() and int() accept
# other Unicode digits (int('²') raises), and `$` would accept a trailing newline.
_NUMERIC = re.compile(r"-?[0-9]+")
_INSTANCES = re.compile(r"[0-9]{1,9}")


class InvalidArgument(Exception):
    """gRPC INVALID_ARGUMENT: answered 400 with the message as the problem's detail."""


def _camel(proto_name: str) -> str:
    return dict(FIELDS)[proto_name]


def _fields(obj, allowed: tuple[tuple[str, str], ...], where: str) -> dict:
    """Protobuf JSON: each field by its proto or JSON name (not both); unknown fields refused."""
    if not isinstance(obj, dict):
        raise InvalidArgument(f"{where} must be a JSON object.")
    names = {proto: proto for proto, _ in allowed} | {camel: proto for proto, camel in allowed}
    out: dict = {}
    for key, value in obj.items():
        proto = names.get(key)
        if proto is None:
            raise InvalidArgument(f'{where} has no field named "{key}".')
        if proto in out:
            raise InvalidArgument(f'{where} gives the field "{proto}" twice.')
        out[proto] = value
    return out


def parse_train(body) -> dict:
    """The metadata of a Train request, every field present ('' and {} when absent), after
    the seed's checks in the seed's order. Raises InvalidArgument."""
    top = _fields(body, (("metadata", "metadata"),), "The request")
    raw = top.get("metadata")
    raw = _fields({} if raw is None else raw, FIELDS, '"metadata"')
    metadata: dict = {}
    for proto, camel in FIELDS:
        value = raw.get(proto)
        if proto == "parameters":
            metadata[proto] = _parameters({} if value is None else value)
        elif value is None:
            metadata[proto] = ""
        elif not isinstance(value, str):
            raise InvalidArgument(f'"{camel}" must be a string.')
        else:
            metadata[proto] = value
    for proto in REQUIRED:
        if not metadata[proto]:
            raise InvalidArgument(f'"{_camel(proto)}" is required.')
    return metadata


def _parameters(value) -> dict[str, str]:
    if not isinstance(value, dict):
        raise InvalidArgument('"parameters" must be a JSON object of strings.')
    for key, v in value.items():
        if not isinstance(v, str):
            raise InvalidArgument(f'Parameter "{key}" must be a string.')
    return dict(value)


def check_parameters(parameters: dict[str, str], max_workers: int) -> int:
    """Parameters become env vars of every replica; returns the Worker count that
    PARALLEL_INSTANCES asks for (1 Master + N-1 Workers). Raises InvalidArgument naming the
    parameter that cannot be an env var or would override what trainq or the operator sets."""
    for name in parameters:
        problem = kubenames.env_name(name)
        if problem:
            raise InvalidArgument(f'Parameter "{name}" is not a valid environment variable '
                                  f"name: it {problem}.")  # fmt: skip
        if name in FROM_METADATA:
            raise InvalidArgument(f'Parameter "{name}" cannot be given: trainq sets it from '
                                  f'"{_camel(FROM_METADATA[name])}".')  # fmt: skip
        reason = reserved_env(name)
        if reason:
            raise InvalidArgument(f'Parameter "{name}" cannot be given: {reason}.')
    raw = parameters.get(PARALLEL_INSTANCES)
    if raw is None:
        return 0
    instances = int(raw) if _INSTANCES.fullmatch(raw) else 0
    if not 1 <= instances <= max_workers + 1:
        raise InvalidArgument(f'Parameter "{PARALLEL_INSTANCES}" must be an integer from 1 to '
                              f'{max_workers + 1}, got "{raw}".')  # fmt: skip
    return instances - 1


def job_name(name: str, algorithm: str) -> str:
    """A DNS-1035 job name from the seed's free-text `name` (or the algorithm's, if empty)."""
    for candidate in (name, algorithm, "train"):
        slug = re.sub(r"[^a-z0-9]+", "-", candidate.lower()).strip("-")
        slug = re.sub(r"^[^a-z]+", "", slug)[:NAME_MAX].rstrip("-")
        if slug:
            return slug
    return "train"


def job_request(metadata: dict, workers: int) -> dict:
    """The body of a trainq job submission (wrapper.api.schemas.JobRequest) for a Train request."""
    env = dict(metadata["parameters"])
    env.update({var: metadata[field] for var, field in FROM_METADATA.items()})
    return {
        "name": job_name(metadata["name"], metadata["algorithm"]),
        "algorithm": metadata["algorithm"],
        "env": env,
        "workers": workers,
        "dataset": {"id": metadata["dataset_id"],
                    "version_hash": metadata["train_data_version_hash"]},
    }  # fmt: skip


def request_field(field: str) -> str:
    """A JobRequest error's field, named as in the Train request."""
    head, _, rest = field.partition(".")
    if head == "env":
        return f"parameters.{rest}" if rest else "parameters"
    if field == "dataset.id":
        return "dataset_id"
    if field == "dataset.version_hash":
        return "train_data_version_hash"
    return head


def never_fits_field(field: str, metadata: dict) -> str:
    """A never-fits error's field (as JobRequest names it) as the Train request names it: the
    job's size follows PARALLEL_INSTANCES, the per-replica resources are the deployment's."""
    if field.startswith("resources.") and PARALLEL_INSTANCES in metadata["parameters"]:
        return f"parameters.{PARALLEL_INSTANCES}"
    return request_field(field)


def parse_job_id(body) -> int:
    """GetTrainingStatusRequest.job_id: a number or a numeric string (absent: 0)."""
    fields = _fields(body, (("job_id", "jobId"),), "The request")
    return job_id_value(fields.get("job_id"))


def job_id_value(value) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidArgument('"job_id" must be an integer.')
    if isinstance(value, str):
        text = value
        if not _NUMERIC.fullmatch(text):
            raise InvalidArgument('"job_id" must be an integer.')
        sign, digits = ("-", text[1:]) if text.startswith("-") else ("", text)
        digits = digits.lstrip("0") or "0"
        if len(digits) > len(str(_INT32_MAX)):  # before int(), which stops at 4,300 digits
            raise InvalidArgument('"job_id" is out of range for an int32.')
        value = int(sign + digits)
    elif isinstance(value, float):
        if not value.is_integer():
            raise InvalidArgument('"job_id" must be an integer.')
        value = int(value)
    if abs(value) > _INT32_MAX:
        raise InvalidArgument('"job_id" is out of range for an int32.')
    return value


def not_found_message(job_id: int) -> str:
    return f"Job {job_id} doesn't exist"


def queuing_message(position: int) -> str:
    return f"Queueing, there are {position} training jobs waiting before this."


def metadata_of(record: dict) -> dict:
    """What a status answer echoes: the Train request's metadata; for a job submitted through
    /v1/teams/{team}/jobs, the same fields read from its spec."""
    spec = record["spec"]
    if spec.get("train_metadata") is not None:
        return spec["train_metadata"]
    dataset = spec.get("dataset") or {}
    env = dict(spec.get("env") or {})
    return {
        "algorithm": (spec.get("algorithm") or {}).get("name", ""),
        "dataset_id": dataset.get("id", ""),
        "name": record["name"],
        "train_data_version_hash": dataset.get("version_hash", ""),
        "parameters": {k: v for k, v in env.items() if k not in FROM_METADATA},
        "output_model_name": env.get("MODEL_NAME", ""),
    }


def status_response(record: dict, position: int | None) -> dict:
    """GetTrainingStatusResponse for a job record; `position` is its place in the queue."""
    status = STATUS[JobStatus(record["status"])]
    if status == "queuing":
        position = position or 0
        message = queuing_message(position)
    else:
        position, message = 0, record.get("message") or ""
    return {
        "status": status,
        "job_id": record["id"],
        "message": message,
        "metadata": metadata_of(record),
        "positionInQueue": position,
    }


# --- shapes for the OpenAPI document (validation is the functions above) -------------------
class TrainingJobMetadata(BaseModel):
    algorithm: str = Field(description='A registered algorithm (required: "algorithm")')
    dataset_id: str = Field(description='Required: "datasetId"; env TRAINING_DATASET_ID')
    name: str = Field(default="", description="Free text; the job's name is derived from it")
    train_data_version_hash: str = Field(
        description='Required: "trainDataVersionHash"; env TRAINING_DATASET_VERSION_HASH'
    )
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="Env vars of every replica; PARALLEL_INSTANCES=N: 1 Master + N-1 Workers",
    )
    output_model_name: str = Field(description='Required: "outputModelName"; env MODEL_NAME')


class TrainRequest(BaseModel):
    metadata: TrainingJobMetadata


class TrainResponse(BaseModel):
    job_id: int


class TrainStatusRequest(BaseModel):
    job_id: int | str = Field(description="A number or a numeric string")


class TrainStatusResponse(BaseModel):
    status: Literal["queuing", "launch", "running", "succeed", "failure"]
    job_id: int
    message: str = Field(
        description="While queuing: 'Queueing, there are N training jobs waiting before "
        "this.'; otherwise the job's message"
    )
    metadata: TrainingJobMetadata = Field(description="The request's metadata")
    positionInQueue: int = Field(  # the seed's camelCase name
        description="Jobs ahead of this one in its team's queue while queuing, else 0"
    )
