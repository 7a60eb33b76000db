"""4e. Work redone after preemption: replica-seconds (gpu-seconds on a gpu node) of training
spent beyond an uninterrupted run when a job is preempted every D seconds of training until it
is done, with checkpoints and without, in one run.

The real trainer (`python -m trainers.intent_classification`, one replica, on this machine's
CPU, epochs of a few seconds) is run to the end once uninterrupted: its training time T (from
its "training ..." line to its exit: importing torch and loading the data, the same for every
attempt, is left out and counted apart) and weights sha256 are the reference. Then, per mode,
every attempt is stopped D = STOP_AFTER x T after its training began, and started again, until
an attempt finishes within D:

- `sigterm`: what a preempted pod gets: SIGTERM, then the grace period; the trainer stops at the
  next step and writes a checkpoint it continues from bit for bit;
- `epoch`: killed without grace (SIGKILL): it continues from its last epoch-boundary checkpoint;
- `none`: no checkpoint kept between attempts (a job without storage that outlives its pods):
  every attempt starts over (D < T: it never finishes).

Redone = the attempts' training time in sum, less T. Interruptions stop at INTERRUPTIONS (then
the last attempt runs to the end).
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.stack import REPO

INTERRUPTIONS = 3
STOP_AFTER = 0.3
# Epochs of a few seconds here (one-utterance batches), one thread: steadier timings. Long
# epochs are what real training has (hours): what an epoch-boundary checkpoint loses shows.
ENV = {"EPOCHS": "3", "BATCH_SIZE": "1", "FC_SIZE": "8192", "LR": "0.01", "SEED": "7",
       "OMP_NUM_THREADS": "1", "MODEL_NAME": "redone-bench",
       "TRAINING_DATA_PATH": str(REPO / "trainers/intent_classification/data")}  # fmt: skip


def _attempt(env: dict, log: Path, stop_after: float | None, sig: int) -> tuple[float, int]:
    """One attempt: (seconds of training, exit code); stopped by `sig` `stop_after` seconds
    after its training began (its "training ..." line)."""
    log.touch()
    offset = log.stat().st_size
    with open(log, "ab") as out:
        argv = [sys.executable, "-m", "trainers.intent_classification"]
        proc = subprocess.Popen(argv, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        began = None
        while proc.poll() is None:
            now = time.monotonic()
            if began is None:
                with open(log, "rb") as f:
                    f.seek(offset)
                    if b"\ntraining " in b"\n" + f.read():
                        began = now
            elif stop_after is not None and now - began >= stop_after:
                proc.send_signal(sig)
                proc.wait(300)
                break
            time.sleep(0.02)
        rc = proc.wait()
    return (time.monotonic() - began if began else 0.0), rc


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
        trained, rc = _attempt(env, workdir / f"{mode}.log", at, sig)
        total, attempts = total + trained, attempts + 1
        codes.append(rc)
        if rc == 0:
            break
    return {"attempts": attempts, "exit_codes": codes, "training_s": round(total, 2),
            "redone_s": round(total - reference, 2),
            "weights_sha256": _sha(run / "model")}  # fmt: skip


def run(workdir: Path, interruptions: int = INTERRUPTIONS, stop_after: float = STOP_AFTER,
        env: dict | None = None) -> dict:  # fmt: skip
    workdir.mkdir(parents=True, exist_ok=True)
    base = {**ENV, **(env or {})}
    ref_dir = workdir / "reference"
    shutil.rmtree(ref_dir, ignore_errors=True)
    reference, rc = _attempt(_env(base, ref_dir), workdir / "reference.log", None, 0)
    if rc != 0:
        raise RuntimeError(f"the uninterrupted run exited {rc}: see {workdir / 'reference.log'}")
    stops = [round(stop_after * reference, 2)] * interruptions
    modes = {m: _mode(workdir, base, m, stops, reference) for m in ("sigterm", "epoch", "none")}
    ref_sha = _sha(ref_dir / "model")
    for m in modes.values():
        m["identical_weights"] = m["weights_sha256"] == ref_sha
    epochs = int(base["EPOCHS"])
    return {"reference_s": round(reference, 2), "epoch_s": round(reference / epochs, 2),
            "stops_s": stops, "interruptions": interruptions,
            "modes": modes, "reference_sha256": ref_sha}  # fmt: skip
