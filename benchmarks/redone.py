"""4e. Work redone after preemption: replica-seconds (gpu-seconds on a gpu node) spent beyond an
uninterrupted run when a job is stopped INTERRUPTIONS times and started again, with checkpoints
and without, in one run.

The real trainer (`python -m trainers.intent_classification`, one replica, on this machine's
CPU) is run to the end once uninterrupted (its wall time T and weights sha256 are the
reference), then, for each mode, stopped at the same seeded points of each attempt (a fraction
of T after its start) and started again until it finishes:

- `sigterm`: what a preempted pod gets: SIGTERM, then the grace period; the trainer stops at the
  next step and writes a checkpoint it continues from bit for bit;
- `epoch`: killed without grace (SIGKILL): it continues from its last epoch-boundary checkpoint;
- `none`: no checkpoint kept between attempts (a job without storage that outlives its pods):
  every attempt starts over.

Redone = the attempts' wall time in sum, less T. Every attempt pays the same start-up (importing
torch, loading the data), so the modes differ by the training they repeat.
"""

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.stack import REPO

INTERRUPTIONS = 3
# Epochs of about 1.5 s here (a wide layer, small batches), one thread: steadier timings.
ENV = {"EPOCHS": "12", "BATCH_SIZE": "4", "FC_SIZE": "8192", "LR": "0.01", "SEED": "7",
       "OMP_NUM_THREADS": "1", "MODEL_NAME": "redone-bench",
       "TRAINING_DATA_PATH": str(REPO / "trainers/intent_classification/data")}  # fmt: skip


def _attempt(env: dict, log: Path, stop_after: float | None, sig: int) -> tuple[float, int]:
    """One attempt: (wall seconds, exit code), stopped by `sig` after `stop_after` seconds."""
    t0 = time.monotonic()
    with open(log, "ab") as out:
        argv = [sys.executable, "-m", "trainers.intent_classification"]
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            rc = proc.wait(stop_after) if stop_after is not None else proc.wait(1800)
        except subprocess.TimeoutExpired:
            proc.send_signal(sig)
            rc = proc.wait(300)
    return time.monotonic() - t0, rc


def _sha(model_dir: Path) -> str | None:
    try:
        return json.loads((model_dir / "manifest.json").read_text())["weights"]["sha256"]
    except (OSError, ValueError, KeyError):
        return None


def _env(base: dict, run: Path) -> dict:
    return {**os.environ, **base, "MODEL_DIR": str(run / "model"),
            "CHECKPOINT_DIR": str(run / "checkpoints")}  # fmt: skip


def _mode(workdir: Path, base: dict, mode: str, stops: list[float], reference: float) -> dict:
    run = workdir / mode
    shutil.rmtree(run, ignore_errors=True)
    env = _env(base, run)
    sig = signal.SIGTERM if mode == "sigterm" else signal.SIGKILL
    total, attempts, codes = 0.0, 0, []
    for at in [*stops, None]:
        if mode == "none":
            shutil.rmtree(run / "checkpoints", ignore_errors=True)
        wall, rc = _attempt(env, workdir / f"{mode}.log", at, sig)
        total, attempts = total + wall, attempts + 1
        codes.append(rc)
        if rc == 0:
            break
    return {"attempts": attempts, "exit_codes": codes, "wall_s": round(total, 2),
            "redone_s": round(total - reference, 2),
            "weights_sha256": _sha(run / "model")}  # fmt: skip


def run(workdir: Path, interruptions: int = INTERRUPTIONS, seed: int = 15,
        env: dict | None = None) -> dict:  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    base = {**ENV, **(env or {})}
    ref_dir = workdir / "reference"
    shutil.rmtree(ref_dir, ignore_errors=True)
    reference, rc = _attempt(_env(base, ref_dir), workdir / "reference.log", None, 0)
    if rc != 0:
        raise RuntimeError(f"the uninterrupted run exited {rc}: see {workdir / 'reference.log'}")
    rng = random.Random(seed)
    stops = [round(rng.uniform(0.35, 0.85) * reference, 2) for _ in range(interruptions)]
    modes = {m: _mode(workdir, base, m, stops, reference) for m in ("sigterm", "epoch", "none")}
    ref_sha = _sha(ref_dir / "model")
    for m in modes.values():
        m["identical_weights"] = m["weights_sha256"] == ref_sha
    return {"reference_s": round(reference, 2), "stops_s": stops, "interruptions": interruptions,
            "modes": modes, "reference_sha256": ref_sha}  # fmt: skip
