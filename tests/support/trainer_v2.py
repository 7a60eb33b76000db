"""Whether Kubeflow Trainer v2 (JobSet and the trainer's controller manager) runs on the local
control plane: `make cluster-up` starts it unless TRAINQ_TRAINER_V2=0, and the suites that run
over both backends skip their TrainJob cases, saying why, where it does not."""

import os
from pathlib import Path

import pytest

from tests.support import REPO

RUN = Path(
    os.environ.get("TRAINQ_RUN", Path(os.environ.get("TRAINQ_LOCAL", REPO / ".local")) / "run")
)
BACKENDS = ("pytorchjob", "trainjob")
# The fail-fast runtime (k8s/local/trainq-torch-runtime.yaml) the suites' TrainJobs run on:
# upstream's torch-distributed retries a failed pod 6 times (minutes) before the job fails.
SUITE_RUNTIME = "trainq-torch-fail-fast"


def _alive(name: str) -> bool:
    try:
        os.kill(int((RUN / f"{name}.pid").read_text().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def running() -> bool:
    return _alive("trainer-controller") and _alive("jobset-controller")


def require() -> None:
    if not running():
        pytest.skip(
            "Kubeflow Trainer v2 is not running: `make cluster-up` starts it (unless "
            "TRAINQ_TRAINER_V2=0; or run k8s/local/trainer-v2-up.sh on a running cluster)"
        )
