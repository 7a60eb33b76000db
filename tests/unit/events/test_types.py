"""Which event a status change is, and which event types exist (wrapper.events.types)."""

import pytest

from wrapper.events.types import (
    EVENT_TYPES,
    UnknownEventType,
    check,
    transition_event,
)


@pytest.mark.parametrize(
    ("previous", "target", "reason", "event"),
    [
        ("queued", "dispatching", None, "job.admitted"),
        ("dispatching", "created", None, "job.created"),
        ("created", "running", None, "job.running"),
        ("running", "restarting", None, "job.restarting"),
        ("running", "succeeded", None, "job.succeeded"),
        ("running", "failed", "BackoffLimitExceeded", "job.failed"),
        ("running", "cancelling", None, "job.cancelling"),
        ("cancelling", "cancelled", None, "job.cancelled"),
        ("running", "suspended", None, "job.suspended"),
        ("suspended", "queued", None, "job.resumed"),
        ("running", "queued", "Preempted", "job.preempted"),
        ("created", "queued", "PodsNotReady", "job.requeued"),
        ("running", "running", None, None),  # a field refresh is no event
    ],
)
def test_transition_events(previous, target, reason, event):
    assert transition_event(previous, target, reason) == event
    if event is not None:
        assert event in EVENT_TYPES


def test_alerts_are_known_and_typos_are_not():
    assert check("job.stalled") == "job.stalled"
    with pytest.raises(UnknownEventType):
        check("job.sucseeded")
