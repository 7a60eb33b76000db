"""Preemption, pure: which running jobs to suspend so that queued jobs can start now
(docs/admission.md, Preemption). Two kinds, as in Kueue:

- reclaim: a job that fits in its team's own quota takes back capacity other teams borrowed.
  Only jobs of teams using more than their quota are victims, and only while their team still
  does (a job running within its team's quota is never one); `Policy.reclaim` = LowerPriority
  limits victims to jobs of lower priority than the preemptor's.
- within the team: a job preempts its own team's jobs of lower priority (`within_team`).

Victims are taken other teams' first, then lowest priority, then the most recently admitted,
until the preemptor fits (placement-true: every replica on a node once the victims' pods are
gone, as `fit.check` decides); then every victim not needed after all is spared (the smallest
set found this way). Jobs admitted less than `min_runtime` ago (their team's) are not victims.

No thrash: a reclaiming job stays within its quota after admission, so it is never a reclaim
victim itself, and every reclaim lowers the borrowing of the victims' teams; a job preempts
within its team only strictly lower priorities. A sweep plans for every team's queue in
order, as if its earlier plans had happened (victims gone, preemptors admitted), and stops at a
team's first job that cannot be helped (its head waits; nothing behind it jumps the line by
preemption)."""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace

from wrapper.admission.fit import PassState, check
from wrapper.admission.placement import Node
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

RECLAIM = "ReclaimQuota"
PRIORITY = "WithinTeamPriority"
ANY, LOWER, NEVER = "Any", "LowerPriority", "Never"
MAX_PER_TEAM = 32  # preemptors planned per team per sweep (a queue's first ones)


@dataclass(frozen=True)
class Running:
    """A dispatched job that could be preempted."""

    id: int
    team: str
    demand: Res  # the whole job
    priority: int
    admitted: float  # epoch of its (latest) admission
    each: Res  # one replica's request
    nodes: tuple[str, ...] = ()  # the node each replica is counted on (): counted in sums


@dataclass(frozen=True)
class Policy:
    reclaim: str = NEVER
    within_team: str = NEVER
    min_runtime: float = 0.0

    @property
    def preempts(self) -> bool:
        return self.reclaim != NEVER or self.within_team != NEVER


@dataclass(frozen=True)
class Preemption:
    job_id: int  # the preemptor
    team: str
    reason: str  # RECLAIM when any victim is another team's, else PRIORITY
    victims: tuple[Running, ...]
    placement: tuple[str, ...]  # where the preemptor would be counted once they are gone
    demand: Res  # the preemptor's, whole
    each: Res  # one of its replicas


def plan(state: ClusterState, running: list[Running] | Callable[[], list[Running]],
         policies: dict[str, Policy], limit: int = MAX_PER_TEAM) -> list[Preemption]:  # fmt: skip
    """Preemptions to make now, in the order found. `running` may be a function that reads the
    running jobs: it is called only once some waiting job cannot start without victims, since
    reading every running job is the dearest step of a pass, and most passes need none."""
    if state.capacity is None or not any(p.preempts for p in policies.values()):
        return []
    out: list[Preemption] = []
    alive: dict[int, Running] | None = None  # (read on first need)

    def current() -> list[Running]:
        nonlocal alive
        if alive is None:
            alive = {r.id: r for r in (running() if callable(running) else running)}
        return list(alive.values())

    waiting = _pools_waiting(state)
    for name in [t.name for t in state.teams]:
        policy = policies.get(name)
        if policy is None or not policy.preempts or name in waiting:
            continue
        for _ in range(limit):
            team = next(t for t in state.teams if t.name == name)
            job = next((j for j in team.queue if j.id not in state.backoff), None)
            if job is None:
                break
            found = _victims(state, team, job, current, policy, policies)
            if found is None:
                break
            victims, placement = found
            if victims:
                reason = RECLAIM if any(v.team != name for v in victims) else PRIORITY
                out.append(Preemption(job.id, name, reason, victims, placement, job.demand,
                                      job.replica()))  # fmt: skip
            for v in victims:
                del alive[v.id]
            # (admitted in this plan: counted in its team's usage, never a victim in it)
            state = _after(state, victims, team, job, placement)
    return out


def _pools_waiting(state: ClusterState) -> set[str]:
    """Teams sharing nodes with a preemptor not admitted yet: they plan no more preemptions
    until it is (its victims' pods may still be going; what they free is its)."""
    if not state.nominated:
        return set()
    sim = PassState(replace(state, nominated={}), explain=False)
    busy = {sim.pool[n.team] for n in state.nominated.values()}
    return {t.name for t in state.teams if sim.pools[sim.pool[t.name]].overlaps & busy}


def _victims(state: ClusterState, team: TeamState, job: Candidate,
             running: Callable[[], list[Running]], policy: Policy, policies: dict[str, Policy],
             ) -> tuple[tuple[Running, ...], tuple[str, ...]] | None:  # fmt: skip
    """The victims that let `job` start now and where it would go: () when it starts without
    any, None when no allowed set of victims makes room."""
    placed = _admissible(state, team, job, ())
    if placed is not None:
        return (), placed
    sim = PassState(state, explain=False)
    if not sim.ever_fits(sim.pool[team.name], job):
        return None
    d, usage = job.demand, team.usage
    in_quota = (usage + d).exceeding(team.quota) == [] and team.running < team.max_jobs
    shared = sim.pools[sim.pool[team.name]].overlaps
    teams = {t.name: t for t in state.teams}
    others, own = [], []
    for r in running():
        if state.now - r.admitted < policies.get(r.team, Policy()).min_runtime:
            continue
        if r.team == team.name:
            if policy.within_team == LOWER and r.priority < job.priority:
                own.append(r)
        elif (
            in_quota
            and r.team in teams
            and sim.pool[r.team] in shared
            and (policy.reclaim == ANY or (policy.reclaim == LOWER and r.priority < job.priority))
        ):
            others.append(r)

    def order(r: Running) -> tuple:
        return (r.priority, -r.admitted, -r.id)

    candidates = sorted(others, key=order) + sorted(own, key=order)
    chosen: list[Running] = []
    left = {n: t.usage for n, t in teams.items()}
    placed = None
    for r in candidates:
        if r.team != team.name and not _borrowing(left[r.team], teams[r.team].quota, r.demand):
            continue  # its team is within its quota (now): never a reclaim victim
        chosen.append(r)
        left[r.team] = left[r.team] - r.demand
        placed = _admissible(state, team, job, chosen)
        if placed is not None:
            break
    if placed is None:
        return None
    # Spare every victim the job can do without, the latest chosen first.
    for r in list(reversed(chosen)):
        rest = [v for v in chosen if v.id != r.id]
        p = _admissible(state, team, job, rest) if rest else None
        if p is not None:
            chosen, placed = rest, p
    return tuple(chosen), placed


def _borrowing(usage: Res, quota: Res, demand: Res) -> bool:
    """The team uses more than its quota of something this job holds."""
    return any(demand.get(r) for r in usage.exceeding(quota))


def _admissible(state: ClusterState, team: TeamState, job: Candidate,
                victims: list[Running] | tuple) -> tuple[str, ...] | None:  # fmt: skip
    """Where `job` would be counted if `victims` were gone (None: it would not be admitted).
    A job that reclaims from other teams must stay within its own quota."""
    if any(v.team != team.name for v in victims) and \
            (team.usage - _sum(v for v in victims if v.team == team.name) + job.demand
             ).exceeding(team.quota):  # fmt: skip
        return None
    after = _without(state, victims) if victims else state
    mine = next(t for t in after.teams if t.name == team.name)
    adm, _, _ = check(PassState(after, explain=False), mine, job, False)
    return None if adm is None else adm.placement


def _sum(jobs) -> Res:
    total = Res()
    for j in jobs:
        total = total + j.demand
    return total


def _without(state: ClusterState, victims) -> ClusterState:
    """The snapshot with `victims` gone: their teams' usage and running jobs, their room."""
    by_team: dict[str, list[Running]] = {}
    for v in victims:
        by_team.setdefault(v.team, []).append(v)
    teams = tuple(
        replace(t, usage=t.usage - _sum(by_team[t.name]), running=t.running - len(by_team[t.name]))
        if t.name in by_team else t
        for t in state.teams
    )  # fmt: skip
    nodes = state.nodes
    if nodes is not None:
        nodes = dict(nodes)
        for v in victims:
            for name, k in Counter(v.nodes).items():
                if name in nodes:
                    nodes[name] = _grown(nodes[name], v.each, k)
    return replace(state, teams=teams, nodes=nodes, index=None)


def _grown(node: Node, each: Res, k: int) -> Node:
    return replace(node, free=node.free + each.scale(k), free_slots=node.free_slots + k)


def _after(state: ClusterState, victims, team: TeamState, job: Candidate,
           placement: tuple[str, ...]) -> ClusterState:  # fmt: skip
    """The snapshot once `victims` are gone and `job` is admitted on `placement`."""
    state = _without(state, victims) if victims else state

    def admitted(t: TeamState) -> TeamState:
        if t.name != team.name:
            return t
        return replace(t, usage=t.usage + job.demand, running=t.running + 1,
                       queue=tuple(j for j in t.queue if j.id != job.id))  # fmt: skip

    nodes = state.nodes
    if nodes is not None and placement:
        nodes = dict(nodes)
        for name, k in Counter(placement).items():
            if name in nodes:
                nodes[name] = _grown(nodes[name], job.replica(), -k)
    return replace(state, teams=tuple(admitted(t) for t in state.teams), nodes=nodes,
                   index=None)  # fmt: skip
