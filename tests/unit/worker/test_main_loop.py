"""`python -m queue_workers` keeps serving after RQ's work loop quits on an error (Redis gone
mid-heartbeat), under a fresh worker name, and stops for good on SIGTERM."""

import argparse
from datetime import datetime

import pytest
import redis.exceptions

import queue_workers.__main__ as main_module


class FakeWorker:
    """Stands in for TrainqWorker: each `work` call plays the next scripted outcome."""

    def __init__(self, name: str, outcome: str):
        self.name, self.outcome = name, outcome
        self.queues = []
        self._shutdown_requested_date = None

    def work(self, **_):
        if self.outcome == "redis-down":
            raise redis.exceptions.ConnectionError("Connection refused")
        if self.outcome == "sigterm":
            self._shutdown_requested_date = datetime.now()
        return False  # "loop quit" (RQ logs the exception and breaks) or stopped on request


@pytest.fixture
def no_sleep(monkeypatch):
    sleeps = []
    monkeypatch.setattr(main_module.time, "sleep", sleeps.append)
    return sleeps


def run(outcomes: list[str], burst: bool = False):
    made = []

    def make(name):
        made.append(FakeWorker(name, outcomes[len(made)]))
        return made[-1]

    rc = main_module.run(make, argparse.Namespace(name="w", burst=burst, log_level="INFO"))
    return rc, made


def test_a_loop_that_quits_on_an_error_serves_again_under_a_new_name(no_sleep):
    rc, made = run(["quit", "redis-down", "quit", "sigterm"])
    assert rc == 0
    assert len(made) == 4
    assert len({w.name for w in made}) == 4  # RQ refuses a name still registered
    assert no_sleep == [1.0, 2.0, 4.0]  # backing off while Redis stays away


def test_sigterm_ends_it_at_once(no_sleep):
    rc, made = run(["sigterm"])
    assert (rc, len(made), no_sleep) == (0, 1, [])


def test_burst_mode_runs_once(no_sleep):
    rc, made = run(["quit"], burst=True)
    assert (rc, len(made), no_sleep) == (0, 1, [])


def test_sigterm_during_the_wait_ends_it(monkeypatch):
    from rq.exceptions import StopRequested

    def interrupted(_):
        raise StopRequested()

    monkeypatch.setattr(main_module.time, "sleep", interrupted)
    rc, made = run(["quit", "quit"])
    assert (rc, len(made)) == (0, 1)


def test_redis_down_while_starting_a_worker_is_waited_out(no_sleep):
    outcomes = iter(["refused", "refused", "sigterm"])
    made = []

    def make(name):
        outcome = next(outcomes)
        if outcome == "refused":  # RQ's constructor names its connection: Redis is needed
            raise redis.exceptions.ConnectionError("Connection refused")
        made.append(FakeWorker(name, outcome))
        return made[-1]

    args = argparse.Namespace(name="w", burst=False, log_level="INFO")
    assert main_module.run(make, args) == 0
    assert len(made) == 1 and made[0].name.endswith(".2")
    assert no_sleep == [1.0, 2.0]
