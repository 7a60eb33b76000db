"""Counters and histograms counted where each event happens: admission and its attempts (the
worker), dispatch attempts (the worker's dispatch job), job ends and evictions (whichever process
makes the transition: `JobStore.transition` is the one place), preemptions (the watcher), the
mirror's lag (the watcher). Each process serves its own values; Prometheus sums them.

Only prometheus_client here (no trainq module): every layer may count without an import cycle.
"""

import time

from prometheus_client import Counter, Histogram

# Kueue's admission_wait_time_seconds buckets start at 1 s; trainq admits within a worker's
# wake-up, so the interesting part is well below that.
WAIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600,
                7200, 21600, 86400)  # fmt: skip
EXECUTION_BUCKETS = (1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 14400, 28800, 86400,
                     259200, 604800)  # fmt: skip
ATTEMPT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)
LAG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)

ADMITTED = Counter("trainq_admitted_jobs_total", "Jobs admitted (quota reserved, dispatching)",
                   ["team"])  # fmt: skip
ADMISSION_WAIT = Histogram("trainq_admission_wait_time_seconds",
                           "From submission to admission, per admission", ["team"],
                           buckets=WAIT_BUCKETS)  # fmt: skip
ADMISSION_ATTEMPTS = Counter("trainq_admission_attempts_total",
                             "A worker's admission rounds: success (it admitted a job) or "
                             "inadmissible (nothing could be admitted)", ["result"])  # fmt: skip
ADMISSION_ATTEMPT_DURATION = Histogram("trainq_admission_attempt_duration_seconds",
                                       "One admission round (snapshot, plan, ADMIT)", ["result"],
                                       buckets=ATTEMPT_BUCKETS)  # fmt: skip
FINISHED = Counter("trainq_finished_jobs_total", "Jobs that reached a terminal status",
                   ["team", "result"])  # fmt: skip
EXECUTION = Histogram("trainq_execution_time_seconds",
                      "Time a finished job ran, over all its admissions", ["team", "result"],
                      buckets=EXECUTION_BUCKETS)  # fmt: skip
EVICTED = Counter("trainq_evicted_jobs_total",
                  "Dispatched jobs sent back to their queue or suspended (their pods go)",
                  ["team", "reason"])  # fmt: skip
PREEMPTED = Counter("trainq_preempted_jobs_total", "Running jobs preempted for a queued one",
                    ["team", "preempting_team", "reason"])  # fmt: skip
DISPATCH_ATTEMPTS = Counter("trainq_dispatch_attempts_total",
                            "Dispatch job runs, by what came of them", ["result"])  # fmt: skip
WATCH_LAG = Histogram("trainq_watch_lag_seconds",
                      "From a PyTorchJob condition's lastTransitionTime to its mirror into the "
                      "job record (lastTransitionTime has whole seconds)",
                      buckets=LAG_BUCKETS)  # fmt: skip

RESULTS = ("succeeded", "failed", "cancelled")


def admitted(team: str, submitted: float | None, now: float | None = None) -> None:
    ADMITTED.labels(team=team).inc()
    if submitted is not None:
        now = time.time() if now is None else now
        ADMISSION_WAIT.labels(team=team).observe(max(now - submitted, 0.0))


def admission_attempt(admitted_one: bool, seconds: float) -> None:
    result = "success" if admitted_one else "inadmissible"
    ADMISSION_ATTEMPTS.labels(result=result).inc()
    ADMISSION_ATTEMPT_DURATION.labels(result=result).observe(seconds)


def finished(team: str, result: str, ran_seconds: float | None) -> None:
    """A job reached `result` (a terminal status); ran_seconds: None when it never ran."""
    FINISHED.labels(team=team, result=result).inc()
    if ran_seconds is not None:
        EXECUTION.labels(team=team, result=result).observe(max(ran_seconds, 0.0))


def evicted(team: str, reason: str | None) -> None:
    EVICTED.labels(team=team, reason=reason or "Unknown").inc()


def preempted(team: str, preempting_team: str, reason: str) -> None:
    PREEMPTED.labels(team=team, preempting_team=preempting_team, reason=reason).inc()


def dispatch_attempt(result: str) -> None:
    DISPATCH_ATTEMPTS.labels(result=result).inc()


def mirrored(changed_at: float, now: float | None = None) -> None:
    """A condition that changed at `changed_at` (epoch) is now in the job record."""
    WATCH_LAG.observe(max((time.time() if now is None else now) - changed_at, 0.0))
