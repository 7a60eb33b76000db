"""Real CPU training runs through the entry point: 1 process and 2 processes (env as the operator
injects it), bit-identical reruns, and resume after SIGKILL.

Every run uses the default hyperparameters on the bundled data set, so the accuracy asserted
here is the one a default job gets.
"""

import hashlib
import json
import re
import signal
import time
from pathlib import Path

import pytest
import torch  # make test installs trainers/requirements.txt; a missing torch must fail, not skip

from tests.trainers.helpers import (
    Result,
    finish,
    free_port,
    operator_env,
    run,
    run_ranks,
    start,
    trainer_env,
)
from trainers.intent_classification.errors import EXIT_CHECKPOINT, EXIT_PEER_LOST

pytestmark = pytest.mark.trainer

EPOCHS = 10  # the default
EPOCH_LINE = re.compile(
    r"^epoch (\d+)/(\d+) train_loss=(\d+\.\d+) val_accuracy=(\d+\.\d+) seconds=(\d+\.\d+)$", re.M
)
MIN_TEST_ACCURACY = 0.85


def dirs(root: Path) -> dict[str, str]:
    return {"MODEL_DIR": str(root / "model"), "CHECKPOINT_DIR": str(root / "checkpoints")}


def manifest(root: Path) -> dict:
    return json.loads((root / "model" / "manifest.json").read_text(encoding="utf-8"))


def weights_sha256(root: Path) -> str:
    return hashlib.sha256((root / "model" / "model.safetensors").read_bytes()).hexdigest()


def assert_ok(*results: Result) -> None:
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, Result]]:
    """Two identical 1-process runs, side by side (one core each)."""
    roots = [tmp_path_factory.mktemp(f"single{i}") for i in range(2)]
    procs = [start(trainer_env(**dirs(root))) for root in roots]
    results = [finish(proc) for proc in procs]
    assert_ok(*results)
    return list(zip(roots, results, strict=True))


@pytest.fixture(scope="module")
def double(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, list[Result]]]:
    """Two identical 2-process runs, one after the other."""
    runs = []
    for i in range(2):
        root = tmp_path_factory.mktemp(f"double{i}")
        results = run_ranks(2, **dirs(root))
        assert_ok(*results)
        runs.append((root, results))
    return runs


def check_outputs(root: Path, log: str, world_size: int) -> dict:
    lines = EPOCH_LINE.findall(log)
    assert [int(epoch) for epoch, *_ in lines] == list(range(1, EPOCHS + 1))
    assert all(int(total) == EPOCHS for _, total, *_ in lines)
    info = manifest(root)
    assert info["weights"]["sha256"] == weights_sha256(root)
    assert info["algorithm"] == "intent-classification"
    assert info["framework"] == "pytorch" and info["framework_version"] == torch.__version__
    assert len(info["classes"]) == 10 and info["classes"]["0"] == "book_flight"
    assert info["hyperparameters"] == {
        "epochs": 10,
        "lr": 0.01,
        "batch_size": 32,
        "fc_size": 128,
        "seed": 42,
        "optimizer": "adam",
    }
    assert re.fullmatch(r"[0-9a-f]{64}", info["code_version"])
    assert info["distributed"]["world_size"] == world_size
    assert info["distributed"]["backend"] == "gloo"
    accuracy = info["metrics"]["test_accuracy"]
    assert accuracy >= MIN_TEST_ACCURACY
    assert f"done: test_accuracy={accuracy:.4f} weights_sha256={weights_sha256(root)}" in log
    metrics = [
        json.loads(line)
        for line in (root / "model" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    assert [m["epoch"] for m in metrics] == list(range(1, EPOCHS + 1))
    assert all(m.keys() == {"epoch", "train_loss", "val_accuracy", "seconds"} for m in metrics)
    assert metrics[-1]["train_loss"] < metrics[0]["train_loss"], "training lowers the loss"
    vocab = json.loads((root / "model" / "vocab.json").read_text(encoding="utf-8"))
    assert vocab["tokens"][0] == "<unk>" and len(vocab["tokens"]) == info["vocabulary"]["size"]
    # Well under a minute with the defaults, on one core per process.
    assert info["metrics"]["training_seconds"] < 30
    return info


def test_single_process_run(single: list[tuple[Path, Result]]) -> None:
    root, result = single[0]
    info = check_outputs(root, result.stdout, world_size=1)
    assert info["dataset"]["split"] == {"train": 635, "val": 77, "test": 88}
    assert (root / "checkpoints" / "checkpoint.pt").exists()


def test_single_process_reruns_are_bit_identical(single: list[tuple[Path, Result]]) -> None:
    (first, _), (second, _) = single
    assert weights_sha256(first) == weights_sha256(second)
    assert manifest(first)["weights"]["sha256"] == manifest(second)["weights"]["sha256"]


def test_two_process_run(double: list[tuple[Path, list[Result]]]) -> None:
    root, (master, worker) = double[0]
    check_outputs(root, master.stdout, world_size=2)
    assert "rank 1 of 2 joined" in worker.stdout
    assert not EPOCH_LINE.search(worker.stdout), "only rank 0 logs epochs"


def test_two_process_reruns_are_bit_identical(double: list[tuple[Path, list[Result]]]) -> None:
    (first, _), (second, _) = double
    assert weights_sha256(first) == weights_sha256(second)


def test_process_count_changes_the_training(
    single: list[tuple[Path, Result]], double: list[tuple[Path, list[Result]]]
) -> None:
    # Guards the reproducibility checks: equal hashes must come from equal training, not from a
    # file that ignores the training altogether.
    assert weights_sha256(single[0][0]) != weights_sha256(double[0][0])


def wait_for_checkpoint(root: Path, procs: list, timeout: float = 120) -> None:
    path = root / "checkpoints" / "checkpoint.pt"
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert all(proc.poll() is None for proc in procs), "a trainer ended before its checkpoint"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.002)


def test_single_process_resumes_after_sigkill(tmp_path: Path) -> None:
    epochs = "30"  # a long run leaves a wide window between the first checkpoint and the end
    reference = start(trainer_env(EPOCHS=epochs, **dirs(tmp_path / "reference")))
    victim = start(trainer_env(EPOCHS=epochs, **dirs(tmp_path / "run")))
    wait_for_checkpoint(tmp_path / "run", [victim])
    victim.send_signal(signal.SIGKILL)
    assert finish(victim).returncode == -signal.SIGKILL
    saved = torch.load(tmp_path / "run" / "checkpoints" / "checkpoint.pt", weights_only=True)
    assert 1 <= saved["epoch"] < int(epochs), "killed mid-way"
    assert not (tmp_path / "run" / "model" / "manifest.json").exists()

    resumed = run(trainer_env(EPOCHS=epochs, **dirs(tmp_path / "run")))
    assert_ok(resumed, finish(reference))
    done = int(re.search(r"resumed from checkpoint at epoch (\d+)/30", resumed.stdout).group(1))
    assert done == saved["epoch"]
    logged = [int(epoch) for epoch, *_ in EPOCH_LINE.findall(resumed.stdout)]
    assert logged == list(range(done + 1, 31)), "only the remaining epochs are trained"
    assert weights_sha256(tmp_path / "run") == weights_sha256(tmp_path / "reference")
    history = (tmp_path / "run" / "model" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in history] == list(range(1, 31))


def test_two_process_job_resumes_after_master_is_killed(
    tmp_path: Path, double: list[tuple[Path, list[Result]]]
) -> None:
    port = free_port()
    ranks = [start(operator_env(rank, 2, port, **dirs(tmp_path))) for rank in range(2)]
    wait_for_checkpoint(tmp_path, ranks)
    ranks[0].send_signal(signal.SIGKILL)
    master, worker = finish(ranks[0]), finish(ranks[1], timeout=120)
    assert master.returncode == -signal.SIGKILL
    # The worker notices the lost peer and asks for a restart (>= 128) rather than failing the
    # job (1..127) under restartPolicy: ExitCode.
    assert worker.returncode == EXIT_PEER_LOST, worker.stderr[-2000:]
    assert (
        worker.stderr.strip().splitlines()[-1].startswith("error: lost contact with another rank")
    )

    master, worker = run_ranks(2, **dirs(tmp_path))  # the operator recreates both pods
    assert_ok(master, worker)
    assert re.search(r"resumed from checkpoint at epoch [1-9]/10", master.stdout), master.stdout
    assert weights_sha256(tmp_path) == weights_sha256(double[0][0])


def test_checkpoint_of_another_run_is_refused(single: list[tuple[Path, Result]]) -> None:
    root, _ = single[0]
    result = run(trainer_env(LR="0.05", **dirs(root)))
    assert result.returncode == EXIT_CHECKPOINT
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "lr 0.01 -> 0.05" in lines[0], result.stderr
