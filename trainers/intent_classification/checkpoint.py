"""Checkpoints in CHECKPOINT_DIR, and the check that one belongs to this run.

A checkpoint holds everything that decides the rest of training: weights, optimiser state, the
epochs done and the steps done of the next (non-zero when SIGTERM stopped training mid-epoch),
each rank's RNG states and partial loss sums, the sampler's seed and next epoch, and the metrics
so far. Rank 0 writes it atomically after every epoch and on SIGTERM (one file, replaced, so the
newest is the one there) and is the only rank that reads it: it sends the contents to the
others, so only the master's pod needs the checkpoint volume.
"""

import io
import pickle
from pathlib import Path
from typing import Any

import torch

from .errors import CheckpointError
from .files import atomic_write, remove_stale_temporaries

CHECKPOINT_FILE = "checkpoint.pt"
FORMAT_VERSION = 2  # 2: a checkpoint may stop mid-epoch (step, per-rank progress)


def path_in(directory: Path) -> Path:
    return directory / CHECKPOINT_FILE


def save(directory: Path, payload: dict[str, Any]) -> None:
    buffer = io.BytesIO()
    torch.save({"format": FORMAT_VERSION, **payload}, buffer)
    atomic_write(path_in(directory), buffer.getvalue())


def load(directory: Path) -> dict[str, Any] | None:
    """The last checkpoint, or None when this run starts fresh."""
    remove_stale_temporaries(directory)
    path = path_in(directory)
    if not path.exists():
        return None
    try:
        # weights_only: a checkpoint is data; unpickling arbitrary objects from a shared volume
        # would let whoever can write there run code in the trainer.
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError) as err:
        raise CheckpointError(f"{path}: cannot read checkpoint ({type(err).__name__})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
        raise CheckpointError(f"{path}: not a checkpoint of this trainer (format version)")
    return payload


def check_belongs(payload: dict[str, Any], fingerprint: dict[str, Any], epochs: int) -> None:
    """Resuming someone else's run would silently train the wrong model: refuse it instead."""
    saved = payload.get("fingerprint", {})
    keys = fingerprint.keys() | saved.keys()
    differ = sorted(key for key in keys if saved.get(key) != fingerprint.get(key))
    if differ:
        details = ", ".join(
            f"{key} {saved.get(key)!r} -> {fingerprint.get(key)!r}" for key in differ
        )
        raise CheckpointError(
            f"the checkpoint in CHECKPOINT_DIR was written by a different run ({details}); "
            "use a new CHECKPOINT_DIR or delete the old checkpoint"
        )
    if payload["epoch"] > epochs:
        raise CheckpointError(
            f"the checkpoint in CHECKPOINT_DIR is at epoch {payload['epoch']}, past EPOCHS={epochs}"
        )
