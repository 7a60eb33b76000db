"""Queue visibility: `GET /v1/teams/{team}/queue` (a team's queued jobs in admission order,
with where each stands and why it waits, plus the team's quota, usage, borrowing and share)
and `GET /v1/queues` (admin: every team at a glance), from this request's admission view."""

from flask import Blueprint

from wrapper.admission.views import AdmissionView
from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.errors import not_found
from wrapper.api.records import current_view
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.schemas import AllQueues, QueueView
from wrapper.api.services import services

bp = Blueprint("queues", __name__, url_prefix="/v1/teams/<team>/queue")
all_bp = Blueprint("all_queues", __name__, url_prefix="/v1/queues")
routes, all_routes = Routes(bp), Routes(all_bp)


def _summary(view: AdmissionView, team: str) -> dict:
    svc = services()
    borrowing = svc.config.team(team).borrowing_limit is not None
    return view.team_summary(team, borrowing, svc.store.running_count(team))


@routes.get(
    "",
    summary="The team's queue in admission order, with pending reasons, ETAs, quota, usage, "
    "borrowing and share",
    reply=Reply(200, "The queue", QueueView),
    errors=errors(401, 404, 503),
)
def get_queue(team: str):
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    view = current_view()
    ids = view.plan.team_order.get(team, [])
    found = {r["id"]: r for r in svc.store.get_many(ids) if r}
    return {**_summary(view, team), "jobs": view.team_jobs(team, found)}


@all_routes.get("", summary="Every team's queue at a glance (admin token)",
                reply=Reply(200, "All queues", AllQueues),
                errors=errors(401, 404, 503))  # fmt: skip
def get_all_queues():
    svc = services()
    if not authenticate(svc.config).admin:
        raise not_found("resource")
    view = current_view()
    return {**view.cluster(), "teams": [_summary(view, t.name) for t in view.state.teams]}
