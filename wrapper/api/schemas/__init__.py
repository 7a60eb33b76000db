"""Request and response bodies (pydantic v2): the job submission (`job_request`), what the API
answers about jobs and queues (`responses`), and the algorithm registry (`algorithms`)."""

from wrapper.api.schemas.algorithms import (
    Algorithm,
    AlgorithmCreate,
    AlgorithmList,
    AlgorithmSummary,
    AlgorithmUpdate,
    AlgorithmVersion,
)
from wrapper.api.schemas.job_request import (
    NAME_MAX,
    JobRequest,
    reserved_env,
)
from wrapper.api.schemas.responses import (
    AllQueues,
    DryRun,
    JobList,
    JobRecord,
    Problem,
    QueuedJob,
    QueueView,
)

__all__ = [
    "NAME_MAX",
    "Algorithm",
    "AlgorithmCreate",
    "AlgorithmList",
    "AlgorithmSummary",
    "AlgorithmUpdate",
    "AlgorithmVersion",
    "AllQueues",
    "DryRun",
    "JobList",
    "JobRecord",
    "JobRequest",
    "Problem",
    "QueueView",
    "QueuedJob",
    "reserved_env",
]  # fmt: skip
