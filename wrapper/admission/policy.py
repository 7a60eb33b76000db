"""The admission policy, pure: a snapshot in, a decision out (`decide`, what a worker admits
next) or the whole picture (`explain`, what the queue views show: why each job waits and where
it stands). Both walk the queues the same way (`_walk`), so a view never disagrees with what
the workers do. `preview` answers a dry run from `explain`: where a job not yet submitted would
land. Policy: docs/admission.md.
"""

import heapq
from dataclasses import dataclass, field, replace

from wrapper.admission.fit import PassState, check, dominant_share, share_of
from wrapper.admission.ordering import insert_at
from wrapper.admission.reasons import (
    EXCEEDS_POOL_CAPACITY,
    WAITING_FOR_BACKOFF,
    WAITING_FOR_CAPACITY,
    WAITING_FOR_HIGHER_PRIORITY,
    WAITING_FOR_PLACEMENT,
    Admission,
    Pending,
)
from wrapper.admission.resources import Res, fmt, fmt_res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState
from wrapper.admission.turns import none_can_fit, turns


@dataclass
class Plan:
    admit: list[Admission] = field(default_factory=list)
    pending: dict[int, Pending] = field(default_factory=dict)
    team_order: dict[str, list[int]] = field(default_factory=dict)  # position order per team
    global_order: list[int] = field(default_factory=list)
    shares: dict[str, float] = field(default_factory=dict)  # weighted dominant share now
    capacity: Res | None = None

    def position(self, job_id: int, team: str) -> int | None:
        order = self.team_order.get(team, [])
        return order.index(job_id) if job_id in order else None

    def eta(self, global_position: int | None, rate: float | None, reason: str | None = None,
            replicas: int = 1) -> float | None:  # fmt: skip
        """Seconds until admission at the recent admission rate: the admissions ahead of it
        in the global order, and for a job waiting for placement one more per replica (room
        for a gang frees as running jobs end, about one per replica). None when unknown: no
        rate yet, or the job waits for capacity to return (ExceedsPoolCapacity)."""
        if global_position is None or not rate or reason == EXCEEDS_POOL_CAPACITY:
            return None
        extra = replicas if reason == WAITING_FOR_PLACEMENT else 0
        return round((global_position + 1 + extra) / rate, 1)


def _too_big(r: str, need: Res, limit: Res, what: str) -> str:
    over = fmt(r, need.get(r) - limit.get(r))
    return f"needs {fmt_res(r, need.get(r))}, {over} more than {what} ({fmt(r, limit.get(r))})"


def never_fits(need: Res, team: TeamState | None, capacity: Res | None,
               where: str = "the whole cluster has", each: Res | None = None,
               largest: Res | None = None) -> list[tuple[str, str]]:  # fmt: skip
    """Why a job can never be admitted: (resource, message) pairs; empty when it may fit.
    each / largest: one replica's request and, per resource, the most any node of the pool
    offers (when the nodes are known): a replica larger than every node never fits."""
    problems = []
    if each is not None and largest is not None:
        scope = "in the cluster" if where == "the whole cluster has" else \
            "of " + where.removesuffix(" nodes have") + " pool"  # fmt: skip
        for r in each.exceeding(largest):
            problems.append((r, f"each replica needs {fmt_res(r, each.get(r))}, "
                                f"{fmt(r, each.get(r) - largest.get(r))} more than the largest "
                                f"node {scope} offers ({fmt(r, largest.get(r))})"))  # fmt: skip
    if team is not None:
        ceiling = team.quota + (team.borrowing_limit or Res())
        what = "quota plus borrowing limit" if team.borrowing_limit else "quota"
        for r in need.exceeding(ceiling):
            problems.append((r, _too_big(r, need, ceiling, f"team {team.name}'s {what}")))
        if team.max_jobs == 0:
            problems.append(("max_running_jobs", f"team {team.name} may run no jobs"))
    if capacity is not None:
        for r in need.exceeding(capacity):
            if all(p[0] != r for p in problems):
                problems.append((r, _too_big(r, need, capacity, where)))
    return problems


def decide(state: ClusterState, limit: int) -> list[Admission]:
    """A worker's decision: at most `limit` admissions to try now, best first. It stops as soon
    as nothing more can be admitted (none_can_fit) and explains nothing."""
    return _walk(state, limit).admit


def explain(state: ClusterState) -> Plan:
    """The whole picture for the queue views: what is admissible now and, for every other job,
    why it waits and where it stands (per team and across teams). Its first admissions are
    what `decide` admits."""
    return _walk(state, None)


def _walk(state: ClusterState, limit: int | None) -> Plan:
    """Admit greedily in weighted-fair-share order, explaining every job left waiting unless
    `limit` (a worker's decision) is given."""
    # One loop over the heap of team turns, kept whole on purpose: its locals are the decision
    # benchmark's hot path (docs/admission.md), and a call per job would cost a measured share.
    out = Plan(capacity=state.capacity)
    if state.capacity is None:
        return _capacity_unknown(state, out)
    # A worker's decision (limit) reads only `admit`: skip the per-job explanations.
    explain = limit is None
    sim = PassState(state, explain)
    # Equal shares: the team admitted least recently first, then the older job.
    heap = turns(state.teams, state.capacity)
    cursor: dict[str, int] = {}  # team -> its next job; absent: its first
    closed: set[str] = set()  # teams with a job blocked already (their head is not open)
    admitted: dict[str, list[int]] = {}
    # team -> demand -> why such a job waits, while nothing was admitted since (admissions only
    # tighten the picture, so identical jobs behind a blocked one wait for the same reason).
    # Keyed by the demand's ints: hashing and comparing plain tuples is much cheaper than Res.
    memo: dict[str, dict[tuple[int, int, int, int, float], Pending]] = {}
    # A worker's pass asks whether it may stop (none_can_fit) once a job does not fit the
    # capacity left; answered no, again when twice as many did (it reads the whole heap).
    scan_at = 1 if limit is not None else None
    while heap:
        if scan_at is not None and sim.misfits >= scan_at:
            if none_can_fit(sim, heap, cursor, closed):
                return out
            scan_at = 2 * sim.misfits
        last_share, last, _, name, team = heapq.heappop(heap)
        queue = team.queue
        at = cursor.get(name, 0)
        job = queue[at]
        at += 1
        adm_now = False
        blocked = memo.get(name)
        d = job.demand
        head_open = name not in closed
        if (
            not head_open
            and blocked
            and (d.cpu, d.memory, d.gpu, job.replicas, job.max_runtime) in blocked
        ):
            # Blocked like the job before it; so are the identical ones behind it (the team's
            # share does not change while nothing is admitted), without going through the heap.
            start, end = at - 1, len(queue)
            while at < end:
                nj = queue[at]
                nd = nj.demand
                if (nd.cpu, nd.memory, nd.gpu, nj.replicas, nj.max_runtime) not in blocked:
                    break
                at += 1
            if explain:
                for j in queue[start:at]:
                    key = (j.demand.cpu, j.demand.memory, j.demand.gpu, j.replicas, j.max_runtime)
                    out.pending[j.id] = blocked[key]
            cursor[name] = at
        else:
            cursor[name] = at
            adm, pending, hold = check(sim, team, job, head_open)
            if explain:
                out.pending[job.id] = pending
            if adm:
                adm_now = True
                memo.clear()
                last = state.now
                out.admit.append(adm)
                if explain:
                    admitted.setdefault(name, []).append(job.id)
                sim.admit(team, d, job, adm.placement)
            else:
                if not head_open and pending.reason != WAITING_FOR_BACKOFF:
                    memo.setdefault(name, {})[
                        (d.cpu, d.memory, d.gpu, job.replicas, job.max_runtime)
                    ] = pending
                closed.add(name)
                if hold:
                    # Its later jobs all wait behind this head and the team admits nothing more
                    # in this pass: explain them now and drop the team from the heap (its turns
                    # would change nothing for the other teams).
                    if explain:
                        msg = (f"job {job.id} ahead in team {name} waited past the "
                               "head-of-line bound and goes first")  # fmt: skip
                        for j in queue[at:]:
                            out.pending[j.id] = Pending(WAITING_FOR_HIGHER_PRIORITY, msg)
                    continue
        if limit is not None and len(out.admit) >= limit:
            return out
        if at < len(queue):
            share = sim.share(team) if adm_now else last_share
            heapq.heappush(heap, (share, last, queue[at].submitted, name, team))
    if limit is not None:
        return out  # a worker's decision needs no positions
    return _positions(state, sim, out, admitted)


# A dry run's job id: real ids start at 1, so it never stands for a queued job.
PREVIEW_ID = 0
ADMISSIBLE_IF_SUBMITTED = "admissible now: a worker would dispatch it at once"


@dataclass(frozen=True)
class Preview:
    """Where a job would land if it were submitted now (a dry run)."""

    team: str
    job: Candidate
    position: int  # 0-based, in the team's admission order
    global_position: int | None  # None: deeper in its team queue than admission looks
    reason: str | None  # None: admissible now
    message: str
    eta_seconds: float | None
    placement: tuple[str, ...]  # the node each replica would be counted on (nodes known)

    @property
    def admissible_now(self) -> bool:
        return self.reason is None


def enqueue(state: ClusterState, team: str, job: Candidate) -> ClusterState:
    """The snapshot with `job` in `team`'s queue where a submission puts it (SUBMIT's queue
    score, read in admission's order: `ordering.insert_at`)."""
    if all(t.name != team for t in state.teams):
        raise KeyError(team)

    def queued(t: TeamState) -> TeamState:
        if t.name != team:
            return t
        at = insert_at(t.queue, job, state.size_credit_seconds)
        return replace(t, queue=(*t.queue[:at], job, *t.queue[at:]))

    return replace(state, teams=tuple(queued(t) for t in state.teams))


def preview(state: ClusterState, team: str, job: Candidate) -> Preview:
    """The whole plan (`explain`) with `job` queued in `team` as a new submission, read at
    that job. Give it an id no queued job has (PREVIEW_ID) and `submitted` = `state.now`."""
    plan = explain(enqueue(state, team, job))
    pending = plan.pending[job.id]
    gpos = plan.global_order.index(job.id)
    placed = next((a.placement for a in plan.admit if a.job_id == job.id), ())
    message = ADMISSIBLE_IF_SUBMITTED if pending.reason is None else pending.message
    return Preview(team, job, plan.team_order[team].index(job.id), gpos, pending.reason,
                   message, plan.eta(gpos, state.admission_rate, pending.reason, job.replicas),
                   placed)  # fmt: skip


def _capacity_unknown(state: ClusterState, out: Plan) -> Plan:
    """Nothing is admitted until the nodes are known; every job waits in queue order."""
    for t in state.teams:
        out.team_order[t.name] = [j.id for j in t.queue]
        for j in t.queue:
            out.pending[j.id] = Pending(WAITING_FOR_CAPACITY, "cluster capacity not known yet")
    out.global_order = _interleave(state, out.team_order, {t.name: t.usage for t in state.teams})
    return out


def _positions(state: ClusterState, sim: PassState, out: Plan,
               admitted: dict[str, list[int]]) -> Plan:  # fmt: skip
    """Each team's order (admitted now first), shares, and the estimated order across teams."""
    now_ids = {a.job_id for a in out.admit}
    waiting = {}
    for t in state.teams:
        waiting[t.name] = [j.id for j in t.queue if j.id not in now_ids]
        out.team_order[t.name] = admitted.get(t.name, []) + waiting[t.name]
        out.shares[t.name] = round(dominant_share(t.usage, state.capacity, t.weight), 4)
    teams_now = tuple(a.team for a in out.admit)
    usage = {t.name: sim.usage_of(t) for t in state.teams}
    out.global_order = [a.job_id for a in out.admit] + _interleave(state, waiting, usage, teams_now)
    return out


def _interleave(
    state: ClusterState,
    order: dict[str, list[int]],
    usage: dict[str, Res],
    admitted_now: tuple[str, ...] = (),
) -> list[int]:
    """Estimated admission order across teams: repeatedly the team with the lowest weighted
    share takes its next job, as if capacity freed up in time. (Usage in plain ints: this runs
    once per queued job.)"""
    jobs = {j.id: j for t in state.teams for j in t.queue}
    weight = {t.name: t.weight for t in state.teams}
    use = {n: [u.cpu, u.memory, u.gpu] for n, u in usage.items()}
    idx = dict.fromkeys(order, 0)
    last = {t.name: t.last_admitted for t in state.teams}
    for name in admitted_now:
        last[name] = state.now
    step = 0
    heap = [(share_of(*use[n], state.capacity, weight[n]), last[n], jobs[ids[0]].submitted, n)
            for n, ids in order.items() if ids]  # fmt: skip
    heapq.heapify(heap)
    out = []
    while heap:
        _, _, _, n = heapq.heappop(heap)
        ids = order[n]
        job_id = ids[idx[n]]
        out.append(job_id)
        idx[n] += 1
        step += 1
        last[n] = state.now + step  # later in the estimated sequence
        u, d = use[n], jobs[job_id].demand
        u[0], u[1], u[2] = u[0] + d.cpu, u[1] + d.memory, u[2] + d.gpu
        if idx[n] < len(ids):
            share = share_of(*u, state.capacity, weight[n])
            heapq.heappush(heap, (share, last[n], jobs[ids[idx[n]]].submitted, n))
    return out
