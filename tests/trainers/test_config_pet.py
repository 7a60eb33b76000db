"""Kubeflow Trainer v2's env protocol (config.from_env): a TrainJob's torch plugin sets only
torchrun's PET_* variables and runs the command as is, so WORLD_SIZE, RANK, MASTER_ADDR and
MASTER_PORT are derived from them when unset; the training operator's explicit ones win."""

import pytest

from trainers.intent_classification.config import DEFAULT_MASTER_PORT, from_env
from trainers.intent_classification.errors import EXIT_CONFIG, ConfigError

pytestmark = pytest.mark.trainer


def trainjob_env(node_rank: str, **extra: str) -> dict[str, str]:
    """What trainer v2.3.0's torch plugin gives node `node_rank` of a 2-node TrainJob (trainq
    sets numProcPerNode 1), after the node agent's rewriting of host and port."""
    return {
        "PET_NNODES": "2",
        "PET_NPROC_PER_NODE": "1",
        "PET_NODE_RANK": node_rank,
        "PET_MASTER_ADDR": "tq-7-node-0-0.tq-7",
        "PET_MASTER_PORT": "29500",
        **extra,
    }


@pytest.mark.parametrize("node_rank", ["0", "1"])
def test_trainjob_nodes_derive_world_rank_and_master(node_rank: str) -> None:
    cfg = from_env(trainjob_env(node_rank))
    assert (cfg.world_size, cfg.rank) == (2, int(node_rank))
    assert (cfg.master_addr, cfg.master_port) == ("tq-7-node-0-0.tq-7", 29500)
    assert cfg.is_main == (node_rank == "0")


def test_several_processes_per_node_count_local_rank() -> None:
    env = trainjob_env("1", PET_NNODES="3", PET_NPROC_PER_NODE="4", LOCAL_RANK="2")
    cfg = from_env(env)
    assert (cfg.world_size, cfg.rank, cfg.local_rank) == (12, 6, 2)


def test_pytorchjob_env_wins_and_its_pet_auto_is_not_read() -> None:
    # The training operator sets both kinds: PET_NPROC_PER_NODE defaults to "auto" there.
    env = {
        "WORLD_SIZE": "2",
        "RANK": "1",
        "MASTER_ADDR": "tq-7-master-0",
        "MASTER_PORT": "23456",
        "PET_NNODES": "2",
        "PET_NODE_RANK": "1",
        "PET_NPROC_PER_NODE": "auto",
        "PET_MASTER_ADDR": "elsewhere",
        "PET_MASTER_PORT": "29500",
    }
    cfg = from_env(env)
    assert (cfg.world_size, cfg.rank) == (2, 1)
    assert (cfg.master_addr, cfg.master_port) == ("tq-7-master-0", 23456)


def test_each_explicit_variable_wins_on_its_own() -> None:
    cfg = from_env(trainjob_env("1", WORLD_SIZE="4", MASTER_PORT="1234"))
    assert (cfg.world_size, cfg.rank, cfg.master_port) == (4, 1, 1234)
    cfg = from_env(trainjob_env("1", RANK="0", MASTER_ADDR="m"))
    assert (cfg.world_size, cfg.rank, cfg.master_addr) == (2, 0, "m")


def test_without_any_rendezvous_env_it_is_a_single_process() -> None:
    cfg = from_env({"PET_MASTER_ADDR": ""})
    assert (cfg.world_size, cfg.rank, cfg.master_addr) == (1, 0, None)
    assert cfg.master_port == DEFAULT_MASTER_PORT
    # One node of one: the PET_* protocol without a group.
    assert from_env(trainjob_env("0", PET_NNODES="1")).world_size == 1


@pytest.mark.parametrize(
    "env, named",
    [
        (trainjob_env("0", PET_NNODES="two"), "PET_NNODES='two' is not an integer"),
        (trainjob_env("0", PET_NNODES="1:4"), "PET_NNODES='1:4' is not an integer"),
        (trainjob_env("0", PET_NNODES="0"), "PET_NNODES=0 is out of range"),
        (trainjob_env("0", PET_NPROC_PER_NODE="auto"),
         "PET_NPROC_PER_NODE='auto' is not an integer"),
        (trainjob_env("0", PET_NPROC_PER_NODE="0"), "PET_NPROC_PER_NODE=0 is out of range"),
        (trainjob_env("x"), "PET_NODE_RANK='x' is not an integer"),
        (trainjob_env("-1"), "PET_NODE_RANK=-1 is out of range"),
        (trainjob_env("2"), "PET_NODE_RANK=2 must be below PET_NNODES=2"),
        (trainjob_env("0", PET_MASTER_PORT="http"), "PET_MASTER_PORT='http' is not an integer"),
        (trainjob_env("0", PET_MASTER_PORT="70000"), "PET_MASTER_PORT=70000 is out of range"),
        (trainjob_env("0", LOCAL_RANK="1"), "LOCAL_RANK=1 must be below PET_NPROC_PER_NODE=1"),
        (trainjob_env("0", PET_NNODES="300", PET_NPROC_PER_NODE="300"),
         "PET_NNODES=300 x PET_NPROC_PER_NODE=300 is above 65536"),
        ({"PET_NNODES": "2", "PET_NODE_RANK": "1"}, "MASTER_ADDR must be set when WORLD_SIZE=2"),
    ],
)  # fmt: skip
def test_bad_pet_values_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError) as raised:
        from_env(env)
    assert named in str(raised.value)
    assert "\n" not in str(raised.value)
    assert raised.value.exit_code == EXIT_CONFIG


def test_a_derived_value_says_where_it_came_from() -> None:
    with pytest.raises(ConfigError, match=r"WORLD_SIZE is unset, so it comes from PET_NNODES"):
        from_env(trainjob_env("0", PET_NNODES="two"))
