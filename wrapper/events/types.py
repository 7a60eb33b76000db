"""The event types trainq publishes, and which one a status change is (pure): a job's
transitions (`job.<status>`, with names of their own for admission and for the ways back into
the queue) and alerts published from Python (`job.stalled`)."""

from wrapper.jobs.states import JobStatus

# Why a job went back to `queued` (wrapper.jobs.preemption.PREEMPTED): kept as a string here
# so this module stays below the jobs package.
_PREEMPTED = "Preempted"

TRANSITIONS = (
    "job.queued", "job.admitted", "job.created", "job.running", "job.restarting",
    "job.succeeded", "job.failed", "job.cancelling", "job.cancelled", "job.suspended",
    "job.resumed", "job.preempted", "job.requeued",
)  # fmt: skip
ALERTS = ("job.stalled",)
EVENT_TYPES = frozenset(TRANSITIONS + ALERTS)
# A job's end: what completion webhooks send unless a hook names its own events.
COMPLETION = ("job.succeeded", "job.failed", "job.cancelled")


class UnknownEventType(ValueError):
    """An event type outside EVENT_TYPES (a typo would otherwise reach every frontend)."""


def check(event_type: str) -> str:
    if event_type not in EVENT_TYPES:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    return event_type


def transition_event(previous: str, target: str, reason: str | None) -> str | None:
    """The event of a status change from `previous` to `target` (None: a field refresh)."""
    previous, target = JobStatus(previous), JobStatus(target)
    if previous == target:
        return None
    if target == JobStatus.QUEUED:
        if previous == JobStatus.SUSPENDED:
            return "job.resumed"
        return "job.preempted" if reason == _PREEMPTED else "job.requeued"
    if target == JobStatus.DISPATCHING:
        return "job.admitted"
    return f"job.{target.value}"
