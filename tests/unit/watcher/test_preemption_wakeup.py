"""The preemption sweep starts its next pass as soon as the admission version changes (a
submission, a job's end), not a whole period later, and never more than 5 times a second."""

import threading
import time
from types import SimpleNamespace

from queue_workers.watcher import preemption


class Versions:
    """Redis GET of the admission version: `changed_at` seconds after creation it moves on."""

    def __init__(self, changed_at: float | None):
        self.t0, self.changed_at = time.monotonic(), changed_at

    def get(self, _key):
        moved = self.changed_at is not None and time.monotonic() - self.t0 >= self.changed_at
        return b"2" if moved else b"1"


def sweep_with(versions: Versions, stop: threading.Event | None = None):
    sweep = preemption.PreemptionSweep.__new__(preemption.PreemptionSweep)
    sweep.store = SimpleNamespace(redis=versions)
    sweep.stop = stop or threading.Event()
    return sweep


def timed(sweep, timeout: float) -> float:
    t0 = time.monotonic()
    sweep.wait_for_change(b"1", timeout)
    return time.monotonic() - t0


def test_a_change_starts_the_next_pass_at_once():
    took = timed(sweep_with(Versions(changed_at=0.3)), timeout=5)
    assert 0.3 <= took < 2.5  # (far from the 5 s period: loose for a loaded machine)


def test_a_change_during_the_pass_still_counts_but_not_before_the_minimum_gap():
    took = timed(sweep_with(Versions(changed_at=0.0)), timeout=5)
    assert preemption.MIN_GAP_SECONDS <= took < 2.5


def test_without_a_change_it_waits_the_period():
    took = timed(sweep_with(Versions(changed_at=None)), timeout=0.5)
    assert took >= 0.5


def test_stopping_ends_the_wait():
    stop = threading.Event()
    threading.Timer(0.1, stop.set).start()
    assert timed(sweep_with(Versions(changed_at=None), stop), timeout=5) < 2.5
