"""The stalled-run decision: no progress for the team's time, counted from the last report or
the start of this run; a non-finite loss at once; each stall announced once."""

from wrapper.runs.stalls import NO_PROGRESS, NON_FINITE_LOSS, stall


def test_no_report_since_the_start_stalls_after_the_configured_time():
    assert stall(100, 50, None, None, 60, None) is None
    found = stall(111, 50, None, None, 60, None)
    assert found["reason"] == NO_PROGRESS and found["since"] == 50
    assert "61s" in found["message"]


def test_a_recent_report_is_progress():
    assert stall(1000, 0, 990, None, 60, None) is None
    assert stall(1100, 0, 990, None, 60, None)["since"] == 990


def test_a_stall_is_announced_once_and_again_after_new_progress():
    first = stall(200, 0, 100, None, 60, None)
    assert stall(300, 0, 100, None, 60, first) is None  # same stall
    assert stall(400, 0, 320, None, 60, first)["since"] == 320  # progressed, then stalled again


def test_a_non_finite_loss_stalls_at_once_even_with_the_timer_off():
    bad = {"epoch": 2, "metric": "train_loss", "value": "nan"}
    found = stall(10, 0, 9, bad, 0, None)
    assert found["reason"] == NON_FINITE_LOSS and "train_loss is nan at epoch 2" in found["message"]
    assert stall(20, 0, 9, bad, 0, found) is None


def test_zero_turns_the_no_progress_alert_off():
    assert stall(10**9, 0, None, None, 0, None) is None
