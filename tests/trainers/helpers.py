"""Helpers for the trainer tests: running `python -m trainers.intent_classification` the
way a PyTorchJob pod does, with env only."""

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
MODULE = "trainers.intent_classification"
# Variables the trainer reads; stripped from the inherited env so the host cannot leak into a test.
TRAINER_VARS = (
    "EPOCHS LR BATCH_SIZE FC_SIZE SEED TRAINING_DATA_PATH MODEL_DIR CHECKPOINT_DIR MODEL_NAME "
    "JOB_ID TRAINING_DATASET_ID TRAINING_DATASET_VERSION_HASH MASTER_ADDR MASTER_PORT WORLD_SIZE "
    "RANK LOCAL_RANK"
).split()


def trainer_env(**overrides: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in TRAINER_VARS}
    # The 2-core test machine runs several trainers at once; torch must not spawn a thread pool
    # per process before the trainer's own set_num_threads(1) takes over.
    env.update({"OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"})
    # Tests run on CPU even on a GPU host: two ranks cannot share one GPU under NCCL.
    env["CUDA_VISIBLE_DEVICES"] = ""
    env.update(overrides)
    return env


def start(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", MODULE],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def finish(proc: subprocess.Popen[str], timeout: float = 240) -> Result:
    stdout, stderr = proc.communicate(timeout=timeout)
    return Result(proc.returncode, stdout, stderr)


def run(env: dict[str, str], timeout: float = 240) -> Result:
    return finish(start(env), timeout)


def operator_env(rank: int, world_size: int, port: int, **overrides: str) -> dict[str, str]:
    """What the Kubeflow operator injects into replica `rank` (MASTER_ADDR resolved to loopback,
    as the local node does)."""
    return trainer_env(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(world_size),
        RANK=str(rank),
        **overrides,
    )


def run_ranks(world_size: int, timeout: float = 240, **overrides: str) -> list[Result]:
    """One process per rank, as the operator starts one pod per replica; waits for all."""
    port = free_port()
    procs = [start(operator_env(rank, world_size, port, **overrides)) for rank in range(world_size)]
    try:
        return [finish(proc, timeout) for proc in procs]
    finally:
        for proc in procs:  # a rank left hanging by a failed peer must not outlive the test
            if proc.poll() is None:
                proc.kill()
                proc.wait()
