"""Queue visibility: `GET /v1/teams/{team}/queue` (a team's queued jobs in admission order, with
where each stands and why it waits, plus the team's quota, usage, borrowing and share) and
`GET /v1/queues` (admin: every team at a glance). Also the per-job fields the job record
shows while queued (`job_visibility`, hooked into `JobStore.public` by the app factory).

The views come from one admission plan (`wrapper.admission.plan`, the workers' own policy),
cached per process until something changes it (`ViewCache`).
"""

import math
import threading
import time

from flask import Blueprint, current_app, g, jsonify

from wrapper import admission
from wrapper.admission import RESOURCES, ClusterState, Plan, Res
from wrapper.admission.store import AdmissionStore
from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.errors import not_found
from wrapper.api.services import services
from wrapper.clock import epoch
from wrapper.redis import keys

bp = Blueprint("queues", __name__, url_prefix="/v1/teams/<team>/queue")
all_bp = Blueprint("all_queues", __name__, url_prefix="/v1/queues")


class _View:
    def __init__(self, state: ClusterState, plan: Plan):
        self.state, self.plan = state, plan
        self.team_pos = {i: n for order in plan.team_order.values() for n, i in enumerate(order)}
        self.global_pos = {i: n for n, i in enumerate(plan.global_order)}

    def job(self, job_id: int) -> dict | None:
        pending = self.plan.pending.get(job_id)
        if pending is None:
            return None
        gpos = self.global_pos.get(job_id)
        return {
            "position": self.team_pos.get(job_id),
            "global_position": gpos,
            "pending_reason": pending.reason,
            "message": pending.message,
            "eta_seconds": self.plan.eta(gpos, self.state.admission_rate),
        }


def admissions() -> AdmissionStore:
    """The app's admission store (it keeps parsed queued jobs between requests)."""
    ext = current_app.extensions
    if "trainq_admissions" not in ext:
        svc = services()
        ext["trainq_admissions"] = AdmissionStore(svc.store, svc.config)
    return ext["trainq_admissions"]


class ViewCache:
    """One process's latest queue view. It is reused while nothing that changes a plan has
    happened (the admission version in Redis is unchanged) and it is under MAX_AGE_S old
    (head-of-line bounds and ETAs move with time). One thread at a time redoes it; meanwhile
    the others answer from the previous view, so a burst of reads under churn costs one plan
    at a time, not one per request. Sequential reads always see a current view."""

    MAX_AGE_S = 1.0

    def __init__(self, build):
        self._build = build  # () -> _View
        self._lock = threading.Lock()
        self._view: _View | None = None
        self._version: bytes | None = None
        self._at = -math.inf

    def get(self, version: bytes | None) -> _View:
        view = self._view
        if view is not None and version == self._version and \
                time.monotonic() - self._at < self.MAX_AGE_S:  # fmt: skip
            return view
        if not self._lock.acquire(blocking=view is None):
            return view  # another thread is redoing it
        try:
            if self._view is view or self._version != version:
                started = time.monotonic()
                self._view = self._build()
                self._version, self._at = version, started
            return self._view
        finally:
            self._lock.release()


def _view() -> _View:
    """The admission plan for this request (one per request, from the process's cache)."""
    if "trainq_queue_view" not in g:
        ext = current_app.extensions
        if "trainq_view_cache" not in ext:
            ext["trainq_view_cache"] = ViewCache(_build_view)
        version = services().store.redis.get(keys.ADMISSION_VERSION)
        g.trainq_queue_view = ext["trainq_view_cache"].get(version)
    return g.trainq_queue_view


def _build_view() -> _View:
    state, _ = admissions().load()
    return _View(state, admission.explain(state))


def job_visibility(record: dict) -> dict:
    """position, global_position, pending_reason, message and eta_seconds of a queued job."""
    found = _view().job(record["id"])
    if found is None:  # not in the snapshot: a re-dispatch at the front of its queue
        queues = services().store.queues
        return {"position": queues.position(record["team"], record["id"])}
    return found


def _amounts(res: Res | None) -> dict | None:
    if res is None:
        return None

    def one(r: str):
        value = res.get(r)
        if value >= admission.UNLIMITED:
            return None  # a borrowing limit left unset for this resource
        return value if r == "gpu" else admission.fmt(r, value)

    return {r: one(r) for r in RESOURCES}


def _team_summary(view: _View, name: str) -> dict:
    team = next(t for t in view.state.teams if t.name == name)
    cfg = services().config.team(name)
    borrowed = (team.usage - team.quota).floor0()
    oldest = min((j.submitted for j in team.queue), default=None)
    return {
        "team": name,
        "weight": team.weight,
        "quota": {"max_running_jobs": team.max_jobs, **_amounts(team.quota)},
        "borrowing_limit": _amounts(team.borrowing_limit) if cfg.borrowing_limit else None,
        "usage": {"jobs": team.running, **_amounts(team.usage)},
        "borrowed": _amounts(borrowed),
        "share": view.plan.shares.get(name, 0.0),
        "queued": len(team.queue),
        "running": services().store.running_count(name),
        "oldest_wait_seconds": None if oldest is None else round(view.state.now - oldest, 1),
    }


@bp.get("")
def get_queue(team: str):
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    view = _view()
    records = {r["id"]: r for r in svc.store.get_many(view.plan.team_order.get(team, [])) if r}
    jobs = []
    for job_id in view.plan.team_order.get(team, []):
        rec = records.get(job_id)
        if rec is None:
            continue
        demand = admission.demand(rec["spec"])
        jobs.append({
            "id": job_id, "name": rec["name"], **view.job(job_id),
            "priority": rec["spec"]["priority"], "submitted_at": rec["submitted_at"],
            "wait_seconds": round(time.time() - epoch(rec["submitted_at"]), 1),
            "demand": _amounts(demand),
        })  # fmt: skip
    return jsonify({**_team_summary(view, team), "jobs": jobs})


@all_bp.get("")
def get_all_queues():
    svc = services()
    principal = authenticate(svc.config)
    if not principal.admin:
        raise not_found("resource")
    view = _view()
    used = Res()
    for t in view.state.teams:
        used = used + t.usage
    cap = view.state.capacity
    return jsonify(
        {
            "capacity": _amounts(cap),
            "used": _amounts(used),
            "free": _amounts((cap - used).floor0()) if cap else None,
            "admission_rate_per_minute": None
            if view.state.admission_rate is None
            else round(view.state.admission_rate * 60, 2),
            "teams": [_team_summary(view, t.name) for t in view.state.teams],
        }
    )
