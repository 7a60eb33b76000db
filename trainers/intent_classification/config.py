"""The trainer's configuration, read from environment variables (the PyTorchJob env protocol).

trainq passes hyperparameters and job identity as env; the Kubeflow operator adds MASTER_ADDR,
MASTER_PORT, WORLD_SIZE and RANK. Every value is checked here, before torch is imported, so a bad
value fails in milliseconds with a message that names the variable.
"""

import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError

BUNDLED_DATA_DIR = Path(__file__).resolve().parent / "data"
# The operator's default port for the `pytorch` container (pytorchjob-port).
DEFAULT_MASTER_PORT = 23456
_INT = re.compile(r"[+-]?\d+")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10
    lr: float = 0.01
    batch_size: int = 32
    fc_size: int = 128
    seed: int = 42
    data_dir: Path = BUNDLED_DATA_DIR
    model_dir: Path = Path(tempfile.gettempdir(), "trainq", "local", "model")
    checkpoint_dir: Path = Path(tempfile.gettempdir(), "trainq", "local", "checkpoints")
    model_name: str = "intent"
    job_id: str = "local"
    dataset_id: str | None = None
    dataset_version_hash: str | None = None
    world_size: int = 1
    rank: int = 0
    master_addr: str | None = None
    master_port: int = DEFAULT_MASTER_PORT
    local_rank: int = 0
    # trainq's training-metrics channel (report.py); both unset: nothing is reported.
    metrics_url: str | None = None
    metrics_token: str | None = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def hyperparameters(self) -> dict[str, int | float]:
        return {
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "fc_size": self.fc_size,
            "seed": self.seed,
        }


def from_env(env: Mapping[str, str]) -> TrainConfig:
    """Builds the config; an empty variable counts as unset, as a blank form field would."""
    get = _Reader(env)
    job_id = get.text("JOB_ID") or TrainConfig.job_id
    # Defaults are per job so two local runs never share (and wrongly resume) a checkpoint.
    run_root = Path(tempfile.gettempdir(), "trainq", job_id)
    world_size = get.integer("WORLD_SIZE", 1, minimum=1, maximum=65536)
    rank = get.integer("RANK", 0, minimum=0, maximum=65535)
    if rank >= world_size:
        raise ConfigError(f"RANK={rank} must be below WORLD_SIZE={world_size}")
    master_addr = get.text("MASTER_ADDR")
    if world_size > 1 and master_addr is None:
        raise ConfigError(f"MASTER_ADDR must be set when WORLD_SIZE={world_size}")
    return TrainConfig(
        epochs=get.integer("EPOCHS", TrainConfig.epochs, minimum=1, maximum=100_000),
        lr=get.number("LR", TrainConfig.lr),
        batch_size=get.integer("BATCH_SIZE", TrainConfig.batch_size, minimum=1, maximum=1_000_000),
        fc_size=get.integer("FC_SIZE", TrainConfig.fc_size, minimum=1, maximum=65536),
        seed=get.integer("SEED", TrainConfig.seed, minimum=0, maximum=2**32 - 1),
        data_dir=get.path("TRAINING_DATA_PATH", BUNDLED_DATA_DIR),
        model_dir=get.path("MODEL_DIR", run_root / "model"),
        checkpoint_dir=get.path("CHECKPOINT_DIR", run_root / "checkpoints"),
        model_name=get.text("MODEL_NAME") or TrainConfig.model_name,
        job_id=job_id,
        dataset_id=get.text("TRAINING_DATASET_ID"),
        dataset_version_hash=get.text("TRAINING_DATASET_VERSION_HASH"),
        world_size=world_size,
        rank=rank,
        master_addr=master_addr,
        master_port=get.integer("MASTER_PORT", DEFAULT_MASTER_PORT, minimum=1, maximum=65535),
        local_rank=get.integer("LOCAL_RANK", 0, minimum=0, maximum=65535),
        metrics_url=get.text("TRAINQ_METRICS_URL"),
        metrics_token=get.text("TRAINQ_METRICS_TOKEN"),
    )


class _Reader:
    """Typed access to env values, raising ConfigError with the variable's name and value."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def text(self, name: str) -> str | None:
        value = self._env.get(name, "").strip()
        return value or None

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        raw = self.text(name)
        if raw is None:
            return default
        # Stricter than int(): "1e3", "2.0" and "1_000" are rejected rather than guessed at.
        if not _INT.fullmatch(raw):
            raise ConfigError(f"{name}={raw!r} is not an integer")
        value = int(raw)
        if not minimum <= value <= maximum:
            raise ConfigError(f"{name}={value} is out of range [{minimum}, {maximum}]")
        return value

    def number(self, name: str, default: float) -> float:
        raw = self.text(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{name}={raw!r} is not a number") from None
        if not math.isfinite(value) or value <= 0:
            raise ConfigError(f"{name}={raw!r} must be a finite number above 0")
        return value

    def path(self, name: str, default: Path) -> Path:
        raw = self.text(name)
        return Path(raw) if raw is not None else default
