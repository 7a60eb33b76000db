"""The trainer's configuration, read from environment variables.

trainq passes hyperparameters and job identity as env. The rendezvous comes from either of two
protocols: the Kubeflow training operator's (a PyTorchJob) sets MASTER_ADDR, MASTER_PORT,
WORLD_SIZE and RANK; Kubeflow Trainer v2's torch plugin (a TrainJob) sets only torchrun's PET_*
variables (PET_NNODES, PET_NPROC_PER_NODE, PET_NODE_RANK, PET_MASTER_ADDR, PET_MASTER_PORT) and
runs the command as is, so each of the four is derived from them when unset (an explicit one
wins). Every value is checked here, before torch is imported, so a bad value fails in
milliseconds with a message that names the variable.
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
    local_rank = get.integer("LOCAL_RANK", 0, minimum=0, maximum=65535)
    pet = _Pet(get, local_rank)
    world_size = get.integer("WORLD_SIZE", 1, minimum=1, maximum=65536)
    if get.text("WORLD_SIZE") is None:
        world_size = pet.world_size()
    rank = get.integer("RANK", 0, minimum=0, maximum=65535)
    if get.text("RANK") is None:
        rank = pet.rank()
    if rank >= world_size:
        raise ConfigError(f"RANK={rank} must be below WORLD_SIZE={world_size}")
    master_addr = get.text("MASTER_ADDR") or get.text("PET_MASTER_ADDR")
    if world_size > 1 and master_addr is None:
        raise ConfigError(f"MASTER_ADDR must be set when WORLD_SIZE={world_size}")
    master_port = get.integer("MASTER_PORT", DEFAULT_MASTER_PORT, minimum=1, maximum=65535)
    if get.text("MASTER_PORT") is None:
        master_port = pet.integer("PET_MASTER_PORT", DEFAULT_MASTER_PORT, "MASTER_PORT",
                                  maximum=65535)  # fmt: skip
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
        master_port=master_port,
        local_rank=local_rank,
        metrics_url=get.text("TRAINQ_METRICS_URL"),
        metrics_token=get.text("TRAINQ_METRICS_TOKEN"),
    )


class _Pet:
    """WORLD_SIZE, RANK and MASTER_PORT as Kubeflow Trainer v2's torch plugin gives them, read
    only for a variable that is unset (a PyTorchJob sets both kinds, PET_NPROC_PER_NODE=auto
    among them, and its own win): world size PET_NNODES x PET_NPROC_PER_NODE, rank
    PET_NODE_RANK x PET_NPROC_PER_NODE + LOCAL_RANK (one process per node unless a launcher
    sets LOCAL_RANK). Bad values raise ConfigError naming the PET_* variable."""

    def __init__(self, get: "_Reader", local_rank: int) -> None:
        self._get, self._local_rank = get, local_rank

    def integer(self, name: str, default: int, instead_of: str, *, minimum: int = 1,
                maximum: int = 65536) -> int:  # fmt: skip
        try:
            return self._get.integer(name, default, minimum=minimum, maximum=maximum)
        except ConfigError as exc:
            raise ConfigError(f"{exc} ({instead_of} is unset, so it comes from {name}; "
                              "the trainer runs without torchrun, so it must be a number)"
                              ) from None  # fmt: skip

    def _nproc(self, instead_of: str) -> int:
        nproc = self.integer("PET_NPROC_PER_NODE", 1, instead_of)
        if self._local_rank >= nproc:
            raise ConfigError(f"LOCAL_RANK={self._local_rank} must be below "
                              f"PET_NPROC_PER_NODE={nproc}")  # fmt: skip
        return nproc

    def world_size(self) -> int:
        if self._get.text("PET_NNODES") is None:
            return 1
        nnodes = self.integer("PET_NNODES", 1, "WORLD_SIZE")
        nproc = self._nproc("WORLD_SIZE")
        if nnodes * nproc > 65536:
            raise ConfigError(f"PET_NNODES={nnodes} x PET_NPROC_PER_NODE={nproc} is above 65536")
        return nnodes * nproc

    def rank(self) -> int:
        if self._get.text("PET_NODE_RANK") is None:
            return 0
        node_rank = self.integer("PET_NODE_RANK", 0, "RANK", minimum=0, maximum=65535)
        nnodes = self._get.text("PET_NNODES")
        if nnodes is not None and _INT.fullmatch(nnodes) and node_rank >= int(nnodes):
            raise ConfigError(f"PET_NODE_RANK={node_rank} must be below PET_NNODES={nnodes}")
        return node_rank * self._nproc("RANK") + self._local_rank


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
