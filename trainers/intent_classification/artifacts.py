"""What a run leaves in MODEL_DIR: weights, vocabulary, metrics.jsonl and manifest.json.

Only rank 0 writes here. Every file is replaced atomically and manifest.json is written last, so
its presence means the model is complete, and its sha256 field can be checked against the file.
"""

import hashlib
import json
from pathlib import Path
from typing import Any

from . import weights
from .files import atomic_write

WEIGHTS_FILE = "model.safetensors"
VOCAB_FILE = "vocab.json"
METRICS_FILE = "metrics.jsonl"
MANIFEST_FILE = "manifest.json"
_PACKAGE_DIR = Path(__file__).resolve().parent


def code_version() -> str:
    """sha256 over the trainer's Python sources: names the code that made a model, with or
    without a git checkout (the image holds none)."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE_DIR.glob("*.py")):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def write_metrics(model_dir: Path, history: list[dict[str, Any]]) -> None:
    """Rewrites the whole file from the history, which the checkpoint carries: after a resume it
    still holds one line per epoch, none missing and none twice."""
    lines = "".join(json.dumps(entry, sort_keys=True) + "\n" for entry in history)
    atomic_write(model_dir / METRICS_FILE, lines.encode("utf-8"))


def write_vocab(model_dir: Path, tokens: list[str]) -> None:
    body = json.dumps({"unknown_index": 0, "tokens": tokens}, ensure_ascii=False)
    atomic_write(model_dir / VOCAB_FILE, body.encode("utf-8"))


def write_weights(model_dir: Path, state: dict[str, Any]) -> str:
    """Writes the weights and returns their sha256."""
    path = model_dir / WEIGHTS_FILE
    atomic_write(path, weights.to_bytes(state))
    return weights.sha256(path)


def write_manifest(model_dir: Path, manifest: dict[str, Any]) -> None:
    body = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    atomic_write(model_dir / MANIFEST_FILE, body.encode("utf-8"))
