"""Per-team and per-pool gauges, read from Redis at scrape time through one admission picture
(the one the queue views show: `wrapper.admission.views.build`), so they are never stale and no
process keeps them. Served by the leading watcher only (`active`): a standby, the workers and the
API serve none, so each series exists once however many replicas run.

`families` is pure (a picture in, metric families out) for tests."""

import logging
from collections.abc import Callable, Iterator

import redis
from prometheus_client.core import GaugeMetricFamily

from wrapper.admission import (
    BORROWING_LIMIT_REACHED,
    EXCEEDS_POOL_CAPACITY,
    RESOURCES,
    UNLIMITED,
    WAITING_FOR_BACKOFF,
    WAITING_FOR_CAPACITY,
    WAITING_FOR_PLACEMENT,
    WAITING_FOR_QUOTA,
    ClusterState,
    Plan,
    Res,
    views,
)
from wrapper.admission.store import AdmissionStore

log = logging.getLogger(__name__)
# Kueue parks a workload as inadmissible when it was tried and does not fit (quota, capacity,
# placement, a backoff); one waiting for its turn (priority, fair share, the jobs ahead of it in
# its queue) stays active. Same split here, by the reason admission gives.
INADMISSIBLE = frozenset({WAITING_FOR_QUOTA, WAITING_FOR_CAPACITY, BORROWING_LIMIT_REACHED,
                          WAITING_FOR_PLACEMENT, EXCEEDS_POOL_CAPACITY,
                          WAITING_FOR_BACKOFF})  # fmt: skip
# Prometheus' base units: cores (not millicores), bytes, devices.
_UNIT = {"cpu": 1000.0, "memory": 1.0, "gpu": 1.0}


def _amounts(family: GaugeMetricFamily, labels: list[str], res: Res | None) -> None:
    if res is None:
        return
    for r in RESOURCES:
        if res.get(r) < UNLIMITED:  # (a borrowing limit left unset for r: no sample)
            family.add_metric([*labels, r], res.get(r) / _UNIT[r])


def families(state: ClusterState, plan: Plan, depths: dict[str, int]) -> Iterator:
    """The gauges of one admission picture; depths: each team queue's whole depth (the picture
    holds only the first `lookahead` jobs of each)."""
    pending = GaugeMetricFamily("trainq_pending_jobs", "Queued jobs: active (admissible, or "
                                "waiting for their turn) or inadmissible (do not fit now)",
                                labels=["team", "status"])  # fmt: skip
    running = GaugeMetricFamily("trainq_admitted_active_jobs",
                                "Admitted jobs not finished yet", labels=["team"])  # fmt: skip
    usage = GaugeMetricFamily("trainq_team_resource_usage", "What the team's admitted jobs "
                              "reserve (cpu: cores, memory: bytes)",
                              labels=["team", "resource"])  # fmt: skip
    quota = GaugeMetricFamily("trainq_team_nominal_quota", "The team's quota",
                              labels=["team", "resource"])  # fmt: skip
    limit = GaugeMetricFamily("trainq_team_borrowing_limit", "What the team may borrow beyond "
                              "its quota (teams that may borrow)",
                              labels=["team", "resource"])  # fmt: skip
    borrowed = GaugeMetricFamily("trainq_team_borrowed_resources", "Usage beyond the quota",
                                 labels=["team", "resource"])  # fmt: skip
    share = GaugeMetricFamily("trainq_team_weighted_share",
                              "Dominant resource share over weight", labels=["team"])  # fmt: skip
    for team in state.teams:
        stuck = sum(1 for j in team.queue
                    if getattr(plan.pending.get(j.id), "reason", None) in INADMISSIBLE)  # fmt: skip
        depth = max(depths.get(team.name, len(team.queue)), stuck)
        pending.add_metric([team.name, "active"], depth - stuck)
        pending.add_metric([team.name, "inadmissible"], stuck)
        running.add_metric([team.name], team.running)
        _amounts(usage, [team.name], team.usage)
        _amounts(quota, [team.name], team.quota)
        _amounts(limit, [team.name], team.borrowing_limit)
        _amounts(borrowed, [team.name], (team.usage - team.quota).floor0())
        share.add_metric([team.name], plan.shares.get(team.name, 0.0))
    yield from (pending, running, usage, quota, limit, borrowed, share)
    yield from pool_families(state)


def pool_families(state: ClusterState) -> Iterator:
    """Each pool's capacity, what its teams reserve, and the ratio (the seed's saturation). A
    pool is named by its teams (its id lists its nodes: too long for a label)."""
    capacity = GaugeMetricFamily("trainq_pool_capacity", "Allocatable of the pool's nodes",
                                 labels=["pool", "resource"])  # fmt: skip
    used = GaugeMetricFamily("trainq_pool_usage", "What the pool's teams reserve",
                             labels=["pool", "resource"])  # fmt: skip
    saturation = GaugeMetricFamily("trainq_pool_saturation", "usage / capacity (0..1)",
                                   labels=["pool", "resource"])  # fmt: skip
    pools = {pid: p.capacity for pid, p in state.pools.items()} or {"": state.capacity}
    for pid, cap in pools.items():
        teams = [t for t in state.teams if (t.pool if state.pools else "") == pid]
        if cap is None or not teams:
            continue  # capacity not known yet, or nodes no team may use
        total = Res()
        for t in teams:
            total = total + t.usage
        name = ",".join(sorted(t.name for t in teams))
        _amounts(capacity, [name], cap)
        _amounts(used, [name], total)
        for r in RESOURCES:
            if cap.get(r) > 0:
                saturation.add_metric([name, r], total.get(r) / cap.get(r))
    yield from (capacity, used, saturation)


class TeamCollector:
    """The gauges above, from Redis at each scrape while `active()` (the watcher: while it
    leads). Nothing when Redis is down: the scrape still answers."""

    def __init__(self, admissions: AdmissionStore, active: Callable[[], bool] = lambda: True):
        self.admissions, self.active = admissions, active

    def collect(self) -> Iterator:
        if not self.active():
            return
        try:
            view = views.build(self.admissions)
            store = self.admissions.store
            depths = store.queues.depths([t.name for t in view.state.teams])
        except redis.exceptions.RedisError as exc:
            log.warning("metrics: Redis unavailable: %s", exc)
            return
        except Exception:  # the rest of the scrape (leader, counters) still answers
            log.exception("metrics: team gauges not read")
            return
        yield from families(view.state, view.plan, depths)
