"""Config parsing from the env protocol (config.from_env), in-process."""

from pathlib import Path

import pytest

from trainers.intent_classification.config import BUNDLED_DATA_DIR, TrainConfig, from_env
from trainers.intent_classification.errors import EXIT_CONFIG, ConfigError

pytestmark = pytest.mark.trainer


def test_defaults_when_nothing_is_set() -> None:
    cfg = from_env({})
    assert cfg == TrainConfig(
        model_dir=cfg.model_dir, checkpoint_dir=cfg.checkpoint_dir
    )  # every other field is the declared default
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.fc_size, cfg.seed) == (10, 0.01, 32, 128, 42)
    assert cfg.data_dir == BUNDLED_DATA_DIR
    assert (cfg.world_size, cfg.rank, cfg.master_addr) == (1, 0, None)


def test_values_are_parsed_and_typed() -> None:
    cfg = from_env(
        {
            "EPOCHS": "15",
            "LR": "0.01",  # the seed parsed LR with int() and crashed on exactly this
            "BATCH_SIZE": " 64 ",
            "FC_SIZE": "256",
            "SEED": "7",
            "TRAINING_DATA_PATH": "/data/versionedDatasets/1/hashDg==",
            "MODEL_DIR": "/out/model",
            "CHECKPOINT_DIR": "/out/ckpt",
            "MODEL_NAME": "my-intent-classification-model",
            "JOB_ID": "17",
            "TRAINING_DATASET_ID": "1",
            "TRAINING_DATASET_VERSION_HASH": "hashDg==",
            "MASTER_ADDR": "job-17-master-0",
            "MASTER_PORT": "23456",
            "WORLD_SIZE": "3",
            "RANK": "2",
        }
    )
    assert (cfg.epochs, cfg.lr, cfg.batch_size, cfg.fc_size, cfg.seed) == (15, 0.01, 64, 256, 7)
    assert isinstance(cfg.lr, float)
    assert cfg.data_dir == Path("/data/versionedDatasets/1/hashDg==")
    assert (cfg.model_dir, cfg.checkpoint_dir) == (Path("/out/model"), Path("/out/ckpt"))
    assert (cfg.model_name, cfg.job_id) == ("my-intent-classification-model", "17")
    assert (cfg.dataset_id, cfg.dataset_version_hash) == ("1", "hashDg==")
    assert (cfg.master_addr, cfg.master_port, cfg.world_size, cfg.rank) == (
        "job-17-master-0",
        23456,
        3,
        2,
    )
    assert not cfg.is_main


@pytest.mark.parametrize("raw, value", [("4", 4.0), ("1e-3", 0.001), ("0.5", 0.5), (".01", 0.01)])
def test_lr_accepts_integers_and_floats(raw: str, value: float) -> None:
    assert from_env({"LR": raw}).lr == value


def test_empty_values_count_as_unset() -> None:
    cfg = from_env({"EPOCHS": "", "LR": "  ", "MASTER_ADDR": "", "TRAINING_DATASET_ID": ""})
    assert (cfg.epochs, cfg.lr, cfg.master_addr, cfg.dataset_id) == (10, 0.01, None, None)


def test_default_output_dirs_are_per_job() -> None:
    a, b = from_env({"JOB_ID": "a"}), from_env({"JOB_ID": "b"})
    assert a.model_dir != b.model_dir and a.checkpoint_dir != b.checkpoint_dir
    assert "a" in a.model_dir.parts and "a" in a.checkpoint_dir.parts


@pytest.mark.parametrize(
    "env, named",
    [
        ({"EPOCHS": "abc"}, "EPOCHS='abc' is not an integer"),
        ({"EPOCHS": "2.0"}, "EPOCHS='2.0' is not an integer"),
        ({"EPOCHS": "0"}, "EPOCHS=0 is out of range"),
        ({"LR": "fast"}, "LR='fast' is not a number"),
        ({"LR": "0"}, "LR='0' must be a finite number above 0"),
        ({"LR": "-0.1"}, "LR='-0.1' must be a finite number above 0"),
        ({"LR": "nan"}, "LR='nan' must be a finite number above 0"),
        ({"LR": "inf"}, "LR='inf' must be a finite number above 0"),
        ({"BATCH_SIZE": "0"}, "BATCH_SIZE=0 is out of range"),
        ({"FC_SIZE": "-5"}, "FC_SIZE=-5 is out of range"),
        ({"SEED": "x1"}, "SEED='x1' is not an integer"),
        ({"SEED": "-1"}, "SEED=-1 is out of range"),
        ({"WORLD_SIZE": "0"}, "WORLD_SIZE=0 is out of range"),
        ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not an integer"),
        ({"WORLD_SIZE": "2", "RANK": "2", "MASTER_ADDR": "m"}, "RANK=2 must be below WORLD_SIZE=2"),
        ({"WORLD_SIZE": "2", "RANK": "1"}, "MASTER_ADDR must be set when WORLD_SIZE=2"),
        ({"MASTER_PORT": "99999"}, "MASTER_PORT=99999 is out of range"),
        ({"MASTER_PORT": "http"}, "MASTER_PORT='http' is not an integer"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_env(env)
    assert named in str(raised.value)
    assert raised.value.exit_code == EXIT_CONFIG


def test_message_stays_on_one_line() -> None:
    with pytest.raises(ConfigError) as raised:
        from_env({"EPOCHS": "1\n2"})
    assert "\n" not in str(raised.value)
