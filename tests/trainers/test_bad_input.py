"""Each class of bad input ends the trainer process with one line on stderr and exit 1..127.

Runs the real entry point as a subprocess, as the pod would. These fail before torch is
imported, so each takes well under a second.
"""

import shutil
from pathlib import Path

import pytest

from tests.trainers.helpers import run, trainer_env
from trainers.intent_classification.config import BUNDLED_DATA_DIR
from trainers.intent_classification.errors import EXIT_CONFIG, EXIT_DATA

pytestmark = pytest.mark.trainer

BUNDLED_ROWS = len((BUNDLED_DATA_DIR / "examples.csv").read_text(encoding="utf-8").splitlines())


def bundled_copy(tmp_path: Path, extra_row: str | None = None) -> Path:
    directory = tmp_path / "data"
    directory.mkdir()
    for name in ("examples.csv", "labels.csv"):
        shutil.copy(BUNDLED_DATA_DIR / name, directory / name)
    if extra_row is not None:
        with (directory / "examples.csv").open("a", encoding="utf-8") as f:
            f.write(extra_row + "\n")
    return directory


def assert_fails_cleanly(env: dict[str, str], exit_code: int, message: str) -> None:
    result = run(env, timeout=60)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == exit_code, result.stderr
    assert 1 <= result.returncode <= 127  # never retried under restartPolicy: ExitCode
    assert len(lines) == 1, f"expected one line on stderr, got: {result.stderr!r}"
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    assert result.stdout == ""


@pytest.mark.parametrize(
    "env, message",
    [
        ({"EPOCHS": "abc"}, "EPOCHS='abc' is not an integer"),
        ({"LR": "0.0.1"}, "LR='0.0.1' is not a number"),
        ({"BATCH_SIZE": "-1"}, "BATCH_SIZE=-1 is out of range"),
        ({"FC_SIZE": "big"}, "FC_SIZE='big' is not an integer"),
        ({"SEED": "1.5"}, "SEED='1.5' is not an integer"),
        ({"WORLD_SIZE": "2", "RANK": "0"}, "MASTER_ADDR must be set when WORLD_SIZE=2"),
        ({"WORLD_SIZE": "2", "RANK": "5", "MASTER_ADDR": "x"}, "RANK=5 must be below WORLD_SIZE=2"),
        ({"MASTER_PORT": "0"}, "MASTER_PORT=0 is out of range"),
    ],
)
def test_bad_env_value(tmp_path: Path, env: dict[str, str], message: str) -> None:
    outputs = {"MODEL_DIR": str(tmp_path / "m"), "CHECKPOINT_DIR": str(tmp_path / "c")}
    assert_fails_cleanly(trainer_env(**outputs, **env), EXIT_CONFIG, message)


def test_unwritable_model_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    env = trainer_env(MODEL_DIR=str(blocker / "model"), CHECKPOINT_DIR=str(tmp_path / "c"))
    assert_fails_cleanly(env, EXIT_CONFIG, "MODEL_DIR=")


@pytest.mark.parametrize(
    "extra_row, message",
    [
        (
            '"book a flight","1","2"',
            f"examples.csv line {BUNDLED_ROWS + 1}: expected 2 fields, got 3",
        ),
        ('"book a "flight"","1"', f"examples.csv line {BUNDLED_ROWS + 1}: malformed CSV"),
        ('"book a flight","first"', "label index 'first' is not a positive integer"),
        ('"book a flight","1;2"', "multi-label row '1;2' is not supported"),
        ('"book a flight","99"', f"line {BUNDLED_ROWS + 1}: label index 99 is not in labels.csv"),
        ('"","1"', f"examples.csv line {BUNDLED_ROWS + 1}: empty utterance"),
    ],
)
def test_bad_row(tmp_path: Path, extra_row: str, message: str) -> None:
    env = trainer_env(
        TRAINING_DATA_PATH=str(bundled_copy(tmp_path, extra_row)),
        MODEL_DIR=str(tmp_path / "m"),
        CHECKPOINT_DIR=str(tmp_path / "c"),
    )
    assert_fails_cleanly(env, EXIT_DATA, message)


@pytest.mark.parametrize("missing", ["examples.csv", "labels.csv"])
def test_missing_data_file(tmp_path: Path, missing: str) -> None:
    directory = bundled_copy(tmp_path)
    (directory / missing).unlink()
    env = trainer_env(
        TRAINING_DATA_PATH=str(directory),
        MODEL_DIR=str(tmp_path / "m"),
        CHECKPOINT_DIR=str(tmp_path / "c"),
    )
    assert_fails_cleanly(env, EXIT_DATA, f"{missing}: file not found")


def test_missing_data_directory(tmp_path: Path) -> None:
    env = trainer_env(
        TRAINING_DATA_PATH=str(tmp_path / "versionedDatasets" / "1" / "hashDg=="),
        MODEL_DIR=str(tmp_path / "m"),
        CHECKPOINT_DIR=str(tmp_path / "c"),
    )
    assert_fails_cleanly(env, EXIT_DATA, "is not a directory")
