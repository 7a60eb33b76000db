"""The deterministic weights file and the checkpoint's compatibility check (in-process)."""

import json
import struct
from pathlib import Path

import pytest
import torch  # make test installs trainers/requirements.txt; a missing torch must fail, not skip

from trainers.intent_classification import checkpoint, weights
from trainers.intent_classification.errors import CheckpointError
from trainers.intent_classification.model import IntentClassifier

pytestmark = pytest.mark.trainer


def model_state(seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    return IntentClassifier(vocab_size=50, num_classes=4, fc_size=8).state_dict()


def test_same_state_gives_same_bytes_and_round_trips(tmp_path: Path) -> None:
    first, second = weights.to_bytes(model_state(1)), weights.to_bytes(model_state(1))
    assert first == second
    assert first != weights.to_bytes(model_state(2))
    path = tmp_path / "model.safetensors"
    path.write_bytes(first)
    loaded = weights.load(path)
    original = model_state(1)
    assert loaded.keys() == original.keys()
    for name, tensor in original.items():
        assert torch.equal(loaded[name], tensor), name
    assert IntentClassifier(50, 4, 8).load_state_dict(loaded)  # loads into the real module


def test_file_follows_the_safetensors_layout() -> None:
    blob = weights.to_bytes({"b": torch.ones(3), "a": torch.zeros(2, 2, dtype=torch.float64)})
    (header_len,) = struct.unpack("<Q", blob[:8])
    assert header_len % 8 == 0
    header = json.loads(blob[8 : 8 + header_len])
    assert header["__metadata__"] == {"format": "pt"}
    assert header["a"] == {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 32]}
    assert header["b"] == {"dtype": "F32", "shape": [3], "data_offsets": [32, 44]}
    assert len(blob) == 8 + header_len + 44


def test_checkpoint_save_is_atomic_and_loads(tmp_path: Path) -> None:
    (tmp_path / ".checkpoint.pt.tmp-999").write_bytes(b"half a file from a killed writer")
    assert checkpoint.load(tmp_path) is None
    assert not list(tmp_path.glob(".*.tmp-*")), "stale temporaries are cleared"
    checkpoint.save(tmp_path, {"epoch": 3, "model": model_state(1), "fingerprint": {"seed": 1}})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]
    payload = checkpoint.load(tmp_path)
    assert payload is not None and payload["epoch"] == 3
    assert torch.equal(payload["model"]["output.bias"], model_state(1)["output.bias"])


def test_corrupt_checkpoint_is_an_input_error(tmp_path: Path) -> None:
    (tmp_path / "checkpoint.pt").write_bytes(b"not a zip archive")
    with pytest.raises(CheckpointError, match="cannot read checkpoint"):
        checkpoint.load(tmp_path)


def test_checkpoint_from_another_run_is_refused() -> None:
    payload = {"epoch": 2, "fingerprint": {"lr": 0.01, "seed": 1}}
    checkpoint.check_belongs(payload, {"lr": 0.01, "seed": 1}, epochs=5)
    with pytest.raises(CheckpointError, match=r"lr 0\.01 -> 0\.1"):
        checkpoint.check_belongs(payload, {"lr": 0.1, "seed": 1}, epochs=5)
    with pytest.raises(CheckpointError, match="past EPOCHS=1"):
        checkpoint.check_belongs(payload, {"lr": 0.01, "seed": 1}, epochs=1)
