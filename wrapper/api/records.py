"""What the API shows of a job record (the `JobRecord` model, serialized by the routes): the
public fields of the stored record and, while it is queued, where it stands and why it waits,
from this request's admission view (`wrapper.admission.views`, cached per process)."""

from flask import g

from wrapper.admission.views import AdmissionView
from wrapper.api.schemas import JobRecord
from wrapper.api.services import services
from wrapper.jobs.preemption import run_seconds
from wrapper.jobs.states import JobStatus

PUBLIC = tuple(JobRecord.model_fields)


_UNREAD = object()


def version_read(version: bytes | None) -> None:
    """The admission version, read with this request's record (one round trip): the view, if
    this request needs one, is the one for it, with no second read."""
    g.trainq_admission_version = version


def current_view() -> AdmissionView:
    """The admission view for this request: one per request, from the process's cache."""
    if "trainq_admission_view" not in g:
        svc = services()
        version = g.get("trainq_admission_version", _UNREAD)
        if version is _UNREAD:
            version = svc.admissions.version()
        g.trainq_admission_view = svc.views.get(version)
    return g.trainq_admission_view


def public(record: dict, plan: bool = True) -> dict:
    """The record as `JobRecord` shows it. plan=False skips the admission view (linear in the
    queued jobs): the submit answer is on the hot path and knows its place already."""
    out = {k: record.get(k) for k in PUBLIC}
    out["suspensions"] = record.get("suspensions") or 0
    out["preemptions"] = record.get("preemptions") or 0
    out["run_seconds"] = run_seconds(record)
    out["webhook_deliveries"] = record.get("webhook_deliveries") or []
    own = record.get("trainq_conditions")
    if own:  # trainq's own (Preempted) among the PyTorchJob's, by time
        merged = [*(record.get("conditions") or []), *own]
        out["conditions"] = sorted(merged, key=lambda c: c.get("last_transition_time") or "")
    if record["status"] == JobStatus.QUEUED and "position" not in record:
        view = current_view() if plan else None
        found = view.job(record["id"]) if view else None
        if found is None:  # deeper than the view, or a re-queue at the front of its queue
            position = services().store.queues.position(record["team"], record["id"])
            deeper = view and view.lookahead and position and position >= view.lookahead
            found = view.beyond(position) if deeper else {"position": position}
        out.update(found)
    return out
