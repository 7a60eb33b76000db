"""The counted events (wrapper.metrics.events) and their helpers: a job's run time over its
admissions (wrapper.jobs.metering), when a mirrored condition changed (the watcher's lag), and
a worker's or watcher's metrics port (wrapper.metrics.serving), scraped over HTTP."""

import urllib.request

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from queue_workers.watcher.mirror import condition_changed_at
from tests.support import free_port
from wrapper.clock import epoch
from wrapper.jobs.metering import ran_seconds
from wrapper.metrics import events, serving


def value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_admission_counts_and_observes_the_wait_in_sub_second_buckets():
    before = value("trainq_admitted_jobs_total", team="m1")
    events.admitted("m1", submitted=100.0, now=100.07)
    events.admitted("m1", submitted=None)  # (no submission time known: counted, not observed)
    assert value("trainq_admitted_jobs_total", team="m1") == before + 2
    assert value("trainq_admission_wait_time_seconds_bucket", team="m1", le="0.05") == 0
    assert value("trainq_admission_wait_time_seconds_bucket", team="m1", le="0.1") == 1
    assert value("trainq_admission_wait_time_seconds_count", team="m1") == 1


def test_finished_counts_by_result_and_observes_only_jobs_that_ran():
    events.finished("m2", "succeeded", 42.0)
    events.finished("m2", "cancelled", None)
    assert value("trainq_finished_jobs_total", team="m2", result="succeeded") == 1
    assert value("trainq_finished_jobs_total", team="m2", result="cancelled") == 1
    assert value("trainq_execution_time_seconds_sum", team="m2", result="succeeded") == 42.0
    assert value("trainq_execution_time_seconds_count", team="m2", result="cancelled") == 0


def test_attempts_evictions_preemptions_and_lag():
    events.admission_attempt(False, 0.003)
    assert value("trainq_admission_attempts_total", result="inadmissible") >= 1
    events.dispatch_attempt("created")
    assert value("trainq_dispatch_attempts_total", result="created") >= 1
    events.evicted("m3", None)
    assert value("trainq_evicted_jobs_total", team="m3", reason="Unknown") == 1
    events.preempted("m3", "m4", "ReclaimQuota")
    assert value("trainq_preempted_jobs_total", team="m3", preempting_team="m4",
                 reason="ReclaimQuota") == 1  # fmt: skip
    count = value("trainq_watch_lag_seconds_count")
    events.mirrored(changed_at=200.0, now=199.5)  # (whole-second timestamps: never negative)
    assert value("trainq_watch_lag_seconds_count") == count + 1


def test_run_time_adds_earlier_runs_to_the_current_one():
    admitted = "2026-01-01T10:00:00.000Z"
    now = epoch(admitted) + 30
    assert ran_seconds(admitted, 100.0, True, now) == 130.0
    assert ran_seconds(admitted, 100.0, False, now) == 100.0  # ended while queued or suspended
    assert ran_seconds(None, 0.0, True, now) is None  # never admitted


def test_a_condition_change_is_the_newest_time_after_every_recorded_one():
    old = [{"type": "Created", "last_transition_time": "2026-01-01T10:00:00Z"}]
    new = [*old, {"type": "Running", "last_transition_time": "2026-01-01T10:00:05Z"}]
    assert condition_changed_at(new, old) == epoch("2026-01-01T10:00:05Z")
    assert condition_changed_at(new, None) == epoch("2026-01-01T10:00:05Z")
    assert condition_changed_at(new, new) is None  # replica counts moved, no condition
    assert condition_changed_at([], old) is None


def test_a_process_serves_its_metrics_on_its_own_port_only_when_asked():
    assert serving.serve_from_env("worker", env={}) is None
    port = free_port()
    leading = [False]
    server, thread = serving.serve_from_env(
        "watcher", serving.Flag("trainq_watcher_leader", "leads", lambda: leading[0]),
        env={"TRAINQ_METRICS_PORT": str(port)})  # fmt: skip
    try:
        events.dispatch_attempt("skipped")

        def scrape() -> dict:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
            return {s.name: s for f in text_string_to_metric_families(text) for s in f.samples}

        got = scrape()
        assert got["trainq_watcher_leader"].value == 0
        assert "trainq_dispatch_attempts_total" in got  # this process's counters too
        leading[0] = True
        assert scrape()["trainq_watcher_leader"].value == 1  # read at each scrape
    finally:
        server.shutdown()
        thread.join(5)
