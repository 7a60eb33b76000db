"""Queue visibility: `GET /v1/teams/{team}/queue` (a team's queued jobs in admission order,
a page at a time, with where each stands and why it waits, plus the team's quota, usage,
borrowing and share) and `GET /v1/queues` (admin: every team at a glance), from this
request's admission view."""

from flask import Blueprint

from wrapper.admission.views import AdmissionView
from wrapper.api import paging
from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.errors import not_found
from wrapper.api.records import current_view
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.schemas import AllQueues, QueueView
from wrapper.api.services import services
from wrapper.jobs.states import JobStatus

bp = Blueprint("queues", __name__, url_prefix="/v1/teams/<team>/queue")
all_bp = Blueprint("all_queues", __name__, url_prefix="/v1/queues")
routes, all_routes = Routes(bp), Routes(all_bp)
PAGE_DEFAULT, PAGE_MAX = 100, 500


def _summary(view: AdmissionView, team: str, depth: int) -> dict:
    svc = services()
    borrowing = svc.config.team(team).borrowing_limit is not None
    return view.team_summary(team, borrowing, svc.store.running_count(team), depth)


def _page(view: AdmissionView, team: str, depth: int, start: int,
          limit: int) -> tuple[list[tuple[int, int | None]], int]:  # fmt: skip
    """A page of the team's queue as (job id, position for a job deeper than the view, else
    None), and the length of the whole listing: the view's jobs in its order, then the
    queue's entries past the lookahead (read by rank: O(log n + page) at any depth)."""
    planned = view.plan.team_order.get(team, [])
    page = [(i, None) for i in planned[start : start + limit]]
    lookahead = view.lookahead or depth
    deeper = max(depth - lookahead, 0)
    if len(page) < limit and deeper:
        rank = lookahead + max(start - len(planned), 0)
        ids = services().store.queues.ids(team, rank, rank + limit - len(page) - 1)
        page += [(i, rank + n) for n, i in enumerate(ids)]
    return page, len(planned) + deeper


@routes.get(
    "",
    summary="The team's queue in admission order (a page), with pending reasons, ETAs, quota, "
    "usage, borrowing and share",
    params=paging.params(PAGE_MAX, PAGE_DEFAULT),
    reply=Reply(200, "The queue", QueueView),
    errors=errors(401, 404, 422, 503),
)
def get_queue(team: str):
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    limit, cursor = paging.limit_and_cursor(PAGE_MAX, PAGE_DEFAULT)
    start = cursor or 0
    view = current_view()
    depth = svc.store.queues.depth(team)
    page, total = _page(view, team, depth, start, limit)
    records = svc.store.get_many([i for i, _ in page])
    jobs = [view.queue_entry(rec, position)
            for (_, position), rec in zip(page, records, strict=True)
            if rec and rec["status"] == JobStatus.QUEUED]  # fmt: skip
    more = start + limit < total
    return {**_summary(view, team, depth), "jobs": jobs,
            "next_cursor": str(start + limit) if more else None}  # fmt: skip


@all_routes.get("", summary="Every team's queue at a glance (admin token)",
                reply=Reply(200, "All queues", AllQueues),
                errors=errors(401, 404, 503))  # fmt: skip
def get_all_queues():
    svc = services()
    if not authenticate(svc.config).admin:
        raise not_found("resource")
    view = current_view()
    depths = svc.store.queues.depths([t.name for t in view.state.teams])
    teams = [_summary(view, t.name, depths[t.name]) for t in view.state.teams]
    return {**view.cluster(), "teams": teams}
