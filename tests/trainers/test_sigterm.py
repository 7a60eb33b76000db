"""SIGTERM, as a pod gets it when its job is suspended: the trainer stops at a step boundary in
the middle of an epoch, writes a checkpoint and exits 143; the rerun resumes from that step and
ends with weights and metrics bit-identical to an uninterrupted run. With two processes only one
is signalled, and both still stop after the same step (no collective left hanging).

Batches of one or two utterances make an epoch hundreds of steps long, so a signal sent once the
trainer has spent CPU time well into its second (last) epoch lands mid-epoch, however loaded
the machine is.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch  # make test installs trainers/requirements.txt; a missing torch must fail, not skip

from tests.trainers.helpers import (
    finish,
    free_port,
    operator_env,
    run,
    run_ranks,
    start,
    trainer_env,
)
from tests.trainers.test_runs import (
    EPOCH_LINE,
    assert_ok,
    dirs,
    wait_for_checkpoint,
    weights_sha256,
)
from trainers.intent_classification.errors import EXIT_TERMINATED

pytestmark = pytest.mark.trainer

ONE = {"EPOCHS": "2", "BATCH_SIZE": "1"}  # 635 steps an epoch
# 318 steps an epoch on each of 2 ranks: a window wide enough that a loaded machine (the test
# polls for the first checkpoint) still signals inside epoch 2.
TWO = {"EPOCHS": "2", "BATCH_SIZE": "1"}
STOPPED = re.compile(r"^SIGTERM: (?:rank \d+ )?stopped at step (\d+) of epoch 2/2", re.M)
CPU_INTO_EPOCH = 0.25  # seconds of CPU time after the first checkpoint: well into epoch 2


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def signal_mid_epoch(procs: list[subprocess.Popen], root: Path, target: subprocess.Popen) -> None:
    wait_for_checkpoint(root, procs)
    since = cpu_seconds(target.pid)
    deadline = time.monotonic() + 60
    while cpu_seconds(target.pid) - since < CPU_INTO_EPOCH:
        assert target.poll() is None and time.monotonic() < deadline, "no progress into epoch 2"
        time.sleep(0.01)
    target.send_signal(signal.SIGTERM)


def saved(root: Path) -> dict:
    return torch.load(root / "checkpoints" / "checkpoint.pt", weights_only=True)


def metrics(root: Path) -> list[dict]:
    text = (root / "model" / "metrics.jsonl").read_text()
    return [
        {k: v for k, v in json.loads(line).items() if k != "seconds"} for line in text.splitlines()
    ]


def check_resumed(root: Path, reference: Path, log: str, step: int) -> None:
    assert f"resumed from checkpoint at epoch 1/2, step {step} of the next" in log, log
    assert [int(epoch) for epoch, *_ in EPOCH_LINE.findall(log)] == [2]
    assert weights_sha256(root) == weights_sha256(reference)
    # The interrupted epoch's loss sums continued from the checkpoint: the same to the bit.
    assert metrics(root) == metrics(reference)


def test_single_process_stops_mid_epoch_and_resumes_bit_identical(tmp_path: Path) -> None:
    root, ref = tmp_path / "run", tmp_path / "reference"
    reference = start(trainer_env(**ONE, **dirs(ref)))
    victim = start(trainer_env(**ONE, **dirs(root)))
    signal_mid_epoch([victim], root, victim)
    stopped = finish(victim)
    assert stopped.returncode == EXIT_TERMINATED, stopped.stderr[-2000:]
    step = int(STOPPED.search(stopped.stdout).group(1))
    payload = saved(root)
    assert (payload["epoch"], payload["step"]) == (1, step) and 0 < step < 635
    assert payload["ranks"][0]["progress"]["seen"] == step  # one utterance per step
    assert not (root / "model" / "manifest.json").exists()

    resumed = run(trainer_env(**ONE, **dirs(root)))
    assert_ok(resumed, finish(reference))
    check_resumed(root, ref, resumed.stdout, step)


def test_two_processes_stop_together_when_one_is_signalled(tmp_path: Path) -> None:
    root, ref = tmp_path / "run", tmp_path / "reference"
    port = free_port()
    ranks = [start(operator_env(rank, 2, port, **TWO, **dirs(root))) for rank in range(2)]
    signal_mid_epoch(ranks, root, ranks[1])  # the worker only
    master, worker = finish(ranks[0]), finish(ranks[1])
    for result in (master, worker):
        assert result.returncode == EXIT_TERMINATED, result.stderr[-2000:]
    steps = {int(STOPPED.search(result.stdout).group(1)) for result in (master, worker)}
    assert len(steps) == 1, (master.stdout, worker.stdout)  # the same step on both ranks
    (step,) = steps
    payload = saved(root)
    assert (payload["epoch"], payload["step"]) == (1, step) and 0 < step < 318
    # Each rank's own RNG stream and partial loss are kept: they differ between ranks.
    first, second = payload["ranks"]
    assert not torch.equal(first["rng"]["cpu"], second["rng"]["cpu"])
    assert first["progress"]["loss_sum"] != second["progress"]["loss_sum"]

    master, worker = run_ranks(2, **TWO, **dirs(root))
    assert_ok(master, worker)
    assert_ok(*run_ranks(2, **TWO, **dirs(ref)))
    check_resumed(root, ref, master.stdout, step)
