"""Small statistics helpers shared by the benchmarks."""

import statistics
import time


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(pct / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def median_low(values: list[float]) -> float | None:
    """The lower median (an observed value; with two rounds, the worse one); None for none."""
    return statistics.median_low(values) if values else None


def timed(fn, count: int, budget_s: float = 60.0) -> list[float]:
    """Seconds each of up to `count` sequential calls of fn() took (at least 3 calls; no new
    call starts once `budget_s` has passed)."""
    out = []
    deadline = time.monotonic() + budget_s
    for i in range(count):
        if i >= 3 and time.monotonic() > deadline:
            break
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary_ms(samples: list[float]) -> dict:
    return {
        "samples": len(samples),
        "p50_ms": round(percentile(samples, 50) * 1000, 3),
        "p99_ms": round(percentile(samples, 99) * 1000, 3),
    }
