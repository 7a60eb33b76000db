"""What the queue views show, from one admission picture (`wrapper.admission.explain`, the
workers' own policy): where each queued job stands and why it waits, and each team's quota,
usage, borrowing and share. `ViewCache` keeps one process's latest picture until something
changes it. Plain data out; the API serializes it (`wrapper.api.queues`, `wrapper.api.records`).
"""

import math
import threading
import time
from collections.abc import Callable

from wrapper.admission import (
    RESOURCES,
    UNLIMITED,
    WAITING_FOR_TEAM_QUEUE,
    ClusterState,
    Plan,
    Res,
    demand,
    explain,
    fmt,
    team_queue_message,
)
from wrapper.admission.store import AdmissionStore
from wrapper.clock import epoch


class AdmissionView:
    """One admission picture, indexed for the views. Like a worker's, it holds the first
    `lookahead` entries of each team queue; a job deeper than that gets its place only
    (`beyond`), so a view costs the same at any queue depth."""

    def __init__(self, state: ClusterState, plan: Plan, lookahead: int | None = None):
        self.state, self.plan, self.lookahead = state, plan, lookahead
        self.team_pos = {i: n for order in plan.team_order.values() for n, i in enumerate(order)}
        self.global_pos = {i: n for n, i in enumerate(plan.global_order)}
        self._jobs: dict[int, int] | None = None  # job id -> replicas, once an ETA needs it

    def _replicas(self, job_id: int) -> int:
        if self._jobs is None:
            self._jobs = {j.id: j.replicas for t in self.state.teams for j in t.queue}
        return self._jobs.get(job_id, 1)

    def job(self, job_id: int) -> dict | None:
        """position, global_position, pending_reason, message and eta_seconds of a queued
        job (None: not in the picture, e.g. a re-dispatch at the front of its queue)."""
        pending = self.plan.pending.get(job_id)
        if pending is None:
            return None
        gpos = self.global_pos.get(job_id)
        return {
            "position": self.team_pos.get(job_id),
            "global_position": gpos,
            "pending_reason": pending.reason,
            "message": pending.message,
            "eta_seconds": self.plan.eta(
                gpos, self.state.admission_rate, pending.reason, self._replicas(job_id)
            ),
        }

    def beyond(self, position: int) -> dict:
        """What `job` shows of a queued job at `position` deeper than the lookahead."""
        return {"position": position, "global_position": None,
                "pending_reason": WAITING_FOR_TEAM_QUEUE,
                "message": team_queue_message(position, self.lookahead or 0),
                "eta_seconds": None}  # fmt: skip

    def queue_entry(self, rec: dict, position: int | None = None) -> dict:
        """One job of a team's queue view. position: given for a job deeper than the view."""
        found = self.job(rec["id"]) if position is None else self.beyond(position)
        return {
            "id": rec["id"], "name": rec["name"], **(found or {"position": None}),
            "priority": rec["spec"]["priority"], "submitted_at": rec["submitted_at"],
            "wait_seconds": round(time.time() - epoch(rec["submitted_at"]), 1),
            "demand": amounts(demand(rec["spec"])),
        }  # fmt: skip

    def team_summary(self, name: str, borrowing: bool, running: int, queued: int) -> dict:
        """A team's quota, usage, borrowing and share. borrowing: the team has a borrowing
        limit; running: its dispatched, unfinished jobs (cancelling ones included); queued:
        its queue's depth (the view holds the first `lookahead`)."""
        team = next(t for t in self.state.teams if t.name == name)
        oldest = min((j.submitted for j in team.queue), default=None)
        return {
            "team": name,
            "weight": team.weight,
            "quota": {"max_running_jobs": team.max_jobs, **amounts(team.quota)},
            "borrowing_limit": amounts(team.borrowing_limit) if borrowing else None,
            "usage": {"jobs": team.running, **amounts(team.usage)},
            "borrowed": amounts((team.usage - team.quota).floor0()),
            "share": self.plan.shares.get(name, 0.0),
            "queued": queued,
            "running": running,
            "oldest_wait_seconds": None if oldest is None else round(self.state.now - oldest, 1),
        }

    def cluster(self) -> dict:
        """Capacity, use and the recent admission rate, across teams."""
        used = Res()
        for t in self.state.teams:
            used = used + t.usage
        cap, rate = self.state.capacity, self.state.admission_rate
        return {
            "capacity": amounts(cap),
            "used": amounts(used),
            "free": amounts((cap - used).floor0()) if cap else None,
            "admission_rate_per_minute": None if rate is None else round(rate * 60, 2),
            "pools": self.pools(),
        }

    def pools(self) -> list[dict] | None:
        """Each pool's teams and its nodes' free room (None: the nodes are not known)."""
        nodes, state = self.state.nodes, self.state
        if nodes is None:
            return None
        groups = {pid: list(pool.nodes) for pid, pool in state.pools.items()} or {"": list(nodes)}
        out = []
        for pid, names in groups.items():
            teams = [t.name for t in state.teams if (t.pool if state.pools else "") == pid]
            out.append({
                "teams": teams,
                "nodes": [{"name": n, "allocatable": amounts(nodes[n].allocatable),
                           "free": amounts(nodes[n].free.floor0()),
                           "free_pods": max(nodes[n].free_slots, 0)}
                          for n in names if n in nodes],
            })  # fmt: skip
        return out


def amounts(res: Res | None) -> dict | None:
    """An amount as the views show it: gpus as a number, cpu and memory as quantities; None
    for a limit left unset."""
    if res is None:
        return None

    def one(r: str):
        value = res.get(r)
        if value >= UNLIMITED:
            return None  # a borrowing limit left unset for this resource
        return value if r == "gpu" else fmt(r, value)

    return {r: one(r) for r in RESOURCES}


def build(admissions: AdmissionStore) -> AdmissionView:
    state, _ = admissions.load(admissions.lookahead)
    return AdmissionView(state, explain(state), admissions.lookahead)


class ViewCache:
    """One process's latest view. It is reused while nothing that changes a plan has happened
    (the admission version in Redis is unchanged) and it is under MAX_AGE_S old (head-of-line
    bounds and ETAs move with time). One thread at a time redoes it. A reader whose version is
    the view's, only aged, answers from it meanwhile; a reader whose version moved waits, and
    gets a view read after its version was (the one under way, if it began after the reader
    asked; else one more): a client that reloads on an event never keeps a view from before it
    (the dashboard's queue and job list load side by side). So a burst of reads under churn
    costs at most two plans, not one per request, and no read is older than what it asked."""

    MAX_AGE_S = 1.0

    def __init__(self, build_view: Callable[[], AdmissionView]):
        self._build = build_view
        self._lock = threading.Lock()
        self._view: AdmissionView | None = None
        self._version: bytes | None = None
        self._at = -math.inf  # when the view's build began

    def get(self, version: bytes | None) -> AdmissionView:
        """The view for `version`, read by the caller just before."""
        asked = time.monotonic()
        view = self._view
        same = view is not None and version == self._version
        if same and asked - self._at < self.MAX_AGE_S:
            return view
        if not self._lock.acquire(blocking=not same):
            return view  # only aged: another thread is redoing it
        try:
            if self._view is not view and (self._version == version or self._at >= asked):
                return self._view  # redone while this reader waited, from a later read
            started = time.monotonic()
            self._view = self._build()
            self._version, self._at = version, started
            return self._view
        finally:
            self._lock.release()
