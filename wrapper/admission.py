"""The admission policy, pure: a snapshot of teams, their queues and the cluster in, a plan out
(which queued jobs to admit now, in order, and for every other job why it waits and where it
stands). No Redis, no Kubernetes: `wrapper.admission_store` loads the snapshot and applies the
plan atomically; workers (`queue_workers.selection`) and the API's queue views both call `plan`.

Policy (docs/admission.md): a job is admitted only when its whole request fits its team's quota
(or quota + borrowing limit, while no other team with queued work is entitled to the borrowed
capacity) and the free cluster capacity. Teams go in order of weighted dominant-resource share;
within a team by priority then submission (best-effort FIFO: a smaller job may pass a head that
does not fit, until the head has waited `head_wait_seconds`; then it holds the next capacity).
"""

import heapq
import math
from dataclasses import dataclass, field
from decimal import Decimal

from wrapper import kubenames

RESOURCES = ("cpu", "memory", "gpu")
REPORTED = ("gpu", "cpu", "memory")  # which shortage a message names first
UNLIMITED = 2**62

WAITING_FOR_QUOTA = "WaitingForQuota"
WAITING_FOR_CAPACITY = "WaitingForCapacity"
WAITING_FOR_HIGHER_PRIORITY = "WaitingForHigherPriority"
WAITING_FOR_FAIR_SHARE = "WaitingForFairShare"
BORROWING_LIMIT_REACHED = "BorrowingLimitReached"
PENDING_REASONS = (WAITING_FOR_QUOTA, WAITING_FOR_CAPACITY, WAITING_FOR_HIGHER_PRIORITY,
                   WAITING_FOR_FAIR_SHARE, BORROWING_LIMIT_REACHED)  # fmt: skip


@dataclass(frozen=True)
class Res:
    """An amount of cluster resources: cpu in millicores, memory in bytes, whole gpus."""

    cpu: int = 0
    memory: int = 0
    gpu: int = 0

    def __add__(self, o: "Res") -> "Res":
        return Res(self.cpu + o.cpu, self.memory + o.memory, self.gpu + o.gpu)

    def __sub__(self, o: "Res") -> "Res":
        return Res(self.cpu - o.cpu, self.memory - o.memory, self.gpu - o.gpu)

    def scale(self, n: int) -> "Res":
        return Res(self.cpu * n, self.memory * n, self.gpu * n)

    def get(self, name: str) -> int:
        return getattr(self, name)

    def floor0(self) -> "Res":
        return Res(max(self.cpu, 0), max(self.memory, 0), max(self.gpu, 0))

    def minimum(self, o: "Res") -> "Res":
        return Res(min(self.cpu, o.cpu), min(self.memory, o.memory), min(self.gpu, o.gpu))

    def exceeding(self, limit: "Res") -> list[str]:
        """The resources where self is above limit."""
        if self.cpu <= limit.cpu and self.memory <= limit.memory and self.gpu <= limit.gpu:
            return []
        return [r for r in REPORTED if self.get(r) > limit.get(r)]

    def fits_in(self, avail: "Res") -> bool:
        """Every resource asked for (non-zero) is available."""
        return (
            (self.cpu == 0 or self.cpu <= avail.cpu)
            and (self.memory == 0 or self.memory <= avail.memory)
            and (self.gpu == 0 or self.gpu <= avail.gpu)
        )

    @classmethod
    def parse(cls, cpu: str | None, memory: str | None, gpu: int | None) -> "Res":
        def amount(q: str | None, scale: int) -> int:
            return UNLIMITED if q is None else math.ceil(kubenames.quantity(q) * scale)

        return cls(amount(cpu, 1000), amount(memory, 1), UNLIMITED if gpu is None else int(gpu))


def demand(spec: dict) -> Res:
    """The whole job's request: 1 Master + spec.workers Workers, each spec.resources."""
    r = spec["resources"]
    return Res.parse(r["cpu"], r["memory"], r.get("gpu") or 0).scale(1 + spec["workers"])


def fmt(resource: str, value: int) -> str:
    """An amount as a person reads it: cores, Gi/Mi, gpus."""
    if value >= UNLIMITED:
        return "unlimited"
    if resource == "cpu":
        return (
            f"{Decimal(value) / 1000:f}".rstrip("0").rstrip(".")
            if value % 1000
            else str(value // 1000)
        )
    if resource == "memory":
        for unit, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if value >= size:
                text = f"{value / size:.1f}".removesuffix(".0")
                return f"{text}{unit}"
        return str(value)
    return str(value)


def fmt_res(resource: str, value: int) -> str:
    return f"{fmt(resource, value)} {resource}"


@dataclass(frozen=True)
class QueuedJob:
    id: int
    demand: Res
    priority: int
    submitted: float  # epoch seconds


@dataclass(frozen=True)
class TeamState:
    name: str
    weight: float
    quota: Res
    max_jobs: int
    borrowing_limit: Res | None  # None: the team may not borrow
    usage: Res  # reserved by its dispatched, unfinished jobs
    running: int
    queue: tuple[QueuedJob, ...]  # priority desc, then submission (the team queue's order)
    pool: str = ""  # the nodes its pods may use (see ClusterState.pools)
    last_admitted: float = 0.0  # epoch of its latest admission (0: never); breaks share ties


@dataclass(frozen=True)
class Pool:
    """The nodes some teams' pods may use (node selector, tolerated taints)."""

    capacity: Res  # their allocatable, capped
    overlaps: frozenset[str]  # pools sharing a node with this one, itself included


@dataclass(frozen=True)
class ClusterState:
    teams: tuple[TeamState, ...]
    capacity: Res | None  # all schedulable capacity (allocatable, capped); None: not known yet
    now: float
    head_wait_seconds: float = 60.0
    admission_rate: float | None = None  # admissions per second recently (for ETAs)
    # Pool id -> pool; empty: one pool, `capacity`, shared by every team.
    pools: dict[str, Pool] = field(default_factory=dict)


@dataclass(frozen=True)
class Admission:
    team: str
    job_id: int
    demand: Res
    team_limit: Res  # the team's usage may reach this (quota, or quota + borrowing)
    max_jobs: int
    borrowing: bool
    capacity: Res = Res()  # what the teams of its (overlapping) pools may hold together
    pool: str = ""


@dataclass(frozen=True)
class Pending:
    reason: str | None  # None: admissible now
    message: str


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

    def eta(self, global_position: int | None, rate: float | None) -> float | None:
        if global_position is None or not rate:
            return None
        return round((global_position + 1) / rate, 1)


def dominant_share(usage: Res, capacity: Res | None, weight: float) -> float:
    """max over resources of used/total, divided by the team's weight (DRF, Armada's c_i/w_i)."""
    if capacity is None:
        return 0.0
    share = usage.cpu / capacity.cpu if capacity.cpu > 0 else 0.0
    if capacity.memory > 0:
        share = max(share, usage.memory / capacity.memory)
    if capacity.gpu > 0:
        share = max(share, usage.gpu / capacity.gpu)
    return share / weight


def effective_capacity(allocatable: Res | None, cap: Res | None) -> Res | None:
    if allocatable is None:
        return None
    return allocatable if cap is None else allocatable.minimum(cap)


def _too_big(r: str, need: Res, limit: Res, what: str) -> str:
    over = fmt(r, need.get(r) - limit.get(r))
    return f"needs {fmt_res(r, need.get(r))}, {over} more than {what} ({fmt(r, limit.get(r))})"


# --- node pools ------------------------------------------------------------------------
# A node, as the capacity cache holds it: {"name", "labels", "taints": [{key, value, effect}],
# "cpu" (milli), "memory" (bytes), "gpu"}; only Ready, uncordoned nodes are cached.
BLOCKING_TAINTS = frozenset({"NoSchedule", "NoExecute"})


def tolerates(tolerations: list[dict], taint: dict) -> bool:
    """Kubernetes' toleration matching, for one taint."""
    for t in tolerations:
        if t.get("effect") and t["effect"] != taint.get("effect"):
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (
            taint.get("value") or ""
        ):
            return True
    return False


def usable_nodes(nodes: list[dict], node_selector: dict, tolerations: list[dict]) -> list[str]:
    """The nodes a team's pods may land on: labels match its selector, every NoSchedule or
    NoExecute taint is tolerated."""
    return sorted(
        n["name"]
        for n in nodes
        if all(n.get("labels", {}).get(k) == v for k, v in node_selector.items())
        and all(tolerates(tolerations, t) for t in n.get("taints", [])
                if t.get("effect") in BLOCKING_TAINTS)
    )  # fmt: skip


def pools_for(nodes: list[dict], placements: dict[str, tuple[dict, list[dict]]],
              cap: Res | None) -> tuple[dict[str, str], dict[str, Pool], Res]:  # fmt: skip
    """Each team's pool (teams whose pods may use the same nodes share one), the pools, and
    the capacity of every node some team may use (for shares). placements: team ->
    (node_selector, tolerations). Pools that share nodes are checked together (overlaps)."""
    by_name = {n["name"]: n for n in nodes}

    def total(names) -> Res:
        out = Res()
        for name in names:
            n = by_name[name]
            out = out + Res(n["cpu"], n["memory"], n["gpu"])
        return effective_capacity(out, cap)

    team_pool, members = {}, {}
    for team, (selector, tolerations) in placements.items():
        names = usable_nodes(nodes, selector, tolerations)
        pool_id = ",".join(names)
        team_pool[team] = pool_id
        members[pool_id] = set(names)
    pools = {
        pid: Pool(total(names), frozenset(o for o, other in members.items() if other & names
                                          or o == pid))
        for pid, names in members.items()
    }  # fmt: skip
    everything = set().union(*members.values()) if members else set()
    return team_pool, pools, total(everything)


def never_fits(need: Res, team: TeamState | None, capacity: Res | None,
               where: str = "the whole cluster has") -> list[tuple[str, str]]:  # fmt: skip
    """Why a job can never be admitted: (resource, message) pairs; empty when it may fit."""
    problems = []
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


def _total(amounts: list[Res]) -> Res:
    """The sum, in plain ints (one Res instead of one per addition)."""
    return Res(sum(a.cpu for a in amounts), sum(a.memory for a in amounts),
               sum(a.gpu for a in amounts))  # fmt: skip


class _Sim:
    """Mutable working state of one planning pass."""

    def __init__(self, state: ClusterState, explain: bool = True):
        self.state = state
        self.explain = explain  # build the pending messages (not for a worker's decision)
        self.cap = state.capacity
        self.pools = state.pools or {"": Pool(state.capacity, frozenset({""}))}
        self.pool = {t.name: t.pool if t.pool in self.pools else "" for t in state.teams}
        if "" not in self.pools and "" in self.pool.values():
            self.pools = {**self.pools, "": Pool(Res(), frozenset({""}))}  # a team with no nodes
        self.usage = {t.name: t.usage for t in state.teams}
        self.running = {t.name: t.running for t in state.teams}
        by_pool: dict[str, list[Res]] = {p: [] for p in self.pools}
        for t in state.teams:
            by_pool[self.pool[t.name]].append(t.usage)
        self.used = {p: _total(u) for p, u in by_pool.items()}  # reserved by each pool's teams
        self.held = {p: Res() for p in self.pools}  # held for heads past the bound
        self.holders: dict[str, list[tuple[int, str]]] = {p: [] for p in self.pools}  # job, team
        # Queued demand not yet admitted, per team: summed on first use (only borrowing needs
        # it), in plain ints; `taken` is what this pass admitted since.
        self._queued: dict[str, Res] = {}
        self.taken: dict[str, Res] = {}
        self.capacity_waiter: dict[str, str] = {}  # pool -> first team found waiting there

    def remaining(self, team: TeamState) -> Res:
        total = self._queued.get(team.name)
        if total is None:
            total = _total([j.demand for j in team.queue])
            self._queued[team.name] = total
        taken = self.taken.get(team.name)
        return total if taken is None else total - taken

    def free(self, pool: str) -> Res:
        return self.pools[pool].capacity - self._over(self.used, pool)

    def held_on(self, pool: str) -> Res:
        return self._over(self.held, pool)

    def _over(self, amounts: dict[str, Res], pool: str) -> Res:
        """The sum of amounts over the pools overlapping pool (usually just pool itself)."""
        overlaps = self.pools[pool].overlaps
        if len(overlaps) == 1:
            (only,) = overlaps
            return amounts[only]
        return _total([amounts[o] for o in overlaps])

    def holder_on(self, pool: str) -> tuple[int, str] | None:
        return next((h for o in self.pools[pool].overlaps for h in self.holders[o]), None)

    def share(self, team: TeamState) -> float:
        return dominant_share(self.usage[team.name], self.cap, team.weight)

    def entitled_to_others(self, team: TeamState) -> tuple[Res, list[str]]:
        """Unused quota of other teams with queued work, up to what their queue needs."""
        total, names = Res(), []
        overlaps = self.pools[self.pool[team.name]].overlaps
        for o in self.state.teams:
            if o.name == team.name or not o.queue:
                continue
            remaining = self.remaining(o)
            if remaining == Res():
                continue
            if self.pool[o.name] not in overlaps:
                continue  # entitled to other nodes
            if self.running[o.name] >= o.max_jobs:
                continue  # cannot use capacity now anyway
            unused = (o.quota - self.usage[o.name]).floor0().minimum(remaining)
            if unused != Res():
                total, names = total + unused, [*names, o.name]
        return total, names


def _check(
    sim: _Sim, team: TeamState, job: QueuedJob, is_head: bool
) -> tuple[Admission | None, Pending, bool]:
    """Decide one job. Returns (admission or None, pending, hold) where hold says the team's
    later jobs must wait behind this one (head-of-line bound reached). Without sim.explain
    (a worker's decision, which reads only the admissions) the pending messages are left
    empty and a capacity wait's reason is not worked out."""
    d, name, pool, explain = job.demand, team.name, sim.pool[team.name], sim.explain
    usage = sim.usage[name]
    overdue = is_head and sim.state.now - job.submitted >= sim.state.head_wait_seconds
    if sim.running[name] + 1 > team.max_jobs:
        msg = (f"team {name} runs {sim.running[name]} of {team.max_jobs} jobs (max_running_jobs)"
               if explain else "")  # fmt: skip
        return None, Pending(WAITING_FOR_QUOTA, msg), overdue
    q = team.quota
    if usage.cpu + d.cpu <= q.cpu and usage.memory + d.memory <= q.memory and \
            usage.gpu + d.gpu <= q.gpu:  # fmt: skip
        need, over_quota = None, []  # the common case, without building `need`
    else:
        need = usage + d
        # Only what the job asks for counts: an earlier over-use of another resource does not.
        over_quota = [r for r in need.exceeding(q) if d.get(r)]
    borrowing = bool(over_quota)
    limit = team.quota
    free = avail = None
    if over_quota:
        r = over_quota[0]
        used = (f"team {name} uses {fmt(r, usage.get(r))} of {fmt(r, team.quota.get(r))}"
                if explain else "")  # fmt: skip
        if team.borrowing_limit is None:
            msg = f"needs {fmt_res(r, d.get(r))}; {used}" if explain else ""
            return None, Pending(WAITING_FOR_QUOTA, msg), overdue
        limit = team.quota + team.borrowing_limit
        over_limit = [r for r in need.exceeding(limit) if d.get(r)]
        if over_limit:
            r = over_limit[0]
            msg = (f"needs {fmt_res(r, d.get(r))}; team {name} uses {fmt(r, usage.get(r))} of "
                   f"{fmt(r, team.quota.get(r))} quota + {fmt(r, team.borrowing_limit.get(r))} "
                   "borrowing limit") if explain else ""  # fmt: skip
            return None, Pending(BORROWING_LIMIT_REACHED, msg), overdue
        entitled, others = sim.entitled_to_others(team)
        free = sim.free(pool)
        avail = free - sim.held_on(pool)
        if others and not d.fits_in(avail - entitled):
            msg = (
                f"needs {fmt_res(r, d.get(r))} beyond its quota ({used}); no new borrowing "
                f"while team {', '.join(others)} waits for its quota"
            ) if explain else ""  # fmt: skip
            return None, Pending(WAITING_FOR_FAIR_SHARE, msg), overdue
    if free is None:  # (sim does not change during one check: computed once)
        free = sim.free(pool)
        avail = free - sim.held_on(pool)
    if not d.fits_in(avail):
        # (explained before this job's hold below: the message names earlier holders only)
        pending = _capacity_pending(sim, name, pool, d, free, avail, overdue) if explain else _WAITS
        if overdue:
            sim.held[pool] = sim.held[pool] + d
            sim.holders[pool].append((job.id, name))
        return None, pending, overdue
    adm = Admission(name, job.id, d, limit, team.max_jobs, borrowing,
                    sim.pools[pool].capacity, pool)  # fmt: skip
    return adm, Pending(None, "admissible now: a worker is dispatching it"), False


# A worker's decision reads only whether a job waits (plan's memo), never why.
_WAITS = Pending(WAITING_FOR_CAPACITY, "")


def _capacity_pending(sim: _Sim, name: str, pool: str, d: Res, free: Res, avail: Res,
                      overdue: bool) -> Pending:  # fmt: skip
    """Why a job that does not fit the free capacity waits (see _check)."""
    r = next(x for x in REPORTED if d.get(x) and d.get(x) > avail.get(x))
    where = "in the cluster" if len(sim.pools) == 1 else f"on team {name}'s nodes"
    waiter = sim.capacity_waiter.get(pool)
    holder = sim.holder_on(pool)
    if holder and d.fits_in(free):
        msg = (
            f"needs {fmt_res(r, d.get(r))}; free capacity is held for job "
            f"{holder[0]} of team {holder[1]} (waited past the head-of-line bound)"
        )
        reason = WAITING_FOR_CAPACITY
    elif waiter not in (None, name):
        reason = WAITING_FOR_FAIR_SHARE
        msg = (
            f"needs {fmt_res(r, d.get(r))}; team {waiter} has a lower "
            f"weighted share and takes the next free capacity"
        )
    else:
        reason = WAITING_FOR_CAPACITY
        total = sim.pools[pool].capacity.get(r)
        msg = (f"needs {fmt_res(r, d.get(r))}; {fmt(r, max(free.get(r), 0))} of "
               f"{fmt(r, total)} free {where}")  # fmt: skip
        sim.capacity_waiter.setdefault(pool, name)  # (only messages read it)
    if overdue:
        msg += "; it has waited past the bound and holds the next free capacity"
    return Pending(reason, msg)


def plan(state: ClusterState, limit: int | None = None) -> Plan:
    """Admit greedily in weighted-fair-share order; explain every job left waiting. With
    `limit` (a worker's decision), stop after that many admissions and skip the positions."""
    out = Plan(capacity=state.capacity)
    teams = {t.name: t for t in state.teams}
    if state.capacity is None:
        for t in state.teams:
            out.team_order[t.name] = [j.id for j in t.queue]
            for j in t.queue:
                out.pending[j.id] = Pending(WAITING_FOR_CAPACITY, "cluster capacity not known yet")
        out.global_order = _interleave(
            state, out.team_order, {t.name: t.usage for t in state.teams}
        )
        return out
    sim = _Sim(state, explain=limit is None)
    cursor = {t.name: 0 for t in state.teams}
    head_open = {t.name: True for t in state.teams}  # no job of the team blocked yet
    admitted: dict[str, list[int]] = {t.name: [] for t in state.teams}
    # Equal shares: the team admitted least recently first, then the older job.
    last = {t.name: t.last_admitted for t in state.teams}
    heap = [(sim.share(t), last[t.name], t.queue[0].submitted, t.name)
            for t in state.teams if t.queue]  # fmt: skip
    heapq.heapify(heap)
    # team -> demand -> why such a job waits, while nothing was admitted since (admissions only
    # tighten the picture, so identical jobs behind a blocked one wait for the same reason).
    # Keyed by the demand's ints: hashing and comparing plain tuples is much cheaper than Res.
    memo: dict[str, dict[tuple[int, int, int], Pending]] = {}
    # A worker's decision (limit) reads only `admit`: skip the per-job explanations.
    explain = limit is None
    while heap:
        last_share, _, _, name = heapq.heappop(heap)
        team = teams[name]
        queue = team.queue
        job = queue[cursor[name]]
        cursor[name] += 1
        adm_now = False
        blocked = memo.get(name)
        d = job.demand
        if not head_open[name] and blocked and (d.cpu, d.memory, d.gpu) in blocked:
            # Blocked like the job before it; so are the identical ones behind it (the team's
            # share does not change while nothing is admitted), without going through the heap.
            at, end = cursor[name], len(queue)
            while at < end:
                nd = queue[at].demand
                if (nd.cpu, nd.memory, nd.gpu) not in blocked:
                    break
                at += 1
            if explain:
                for j in queue[cursor[name] - 1 : at]:
                    out.pending[j.id] = blocked[(j.demand.cpu, j.demand.memory, j.demand.gpu)]
            cursor[name] = at
        else:
            adm, pending, hold = _check(sim, team, job, head_open[name])
            if explain:
                out.pending[job.id] = pending
            if adm:
                adm_now = True
                memo.clear()
                last[name] = state.now
                sim.taken[name] = sim.taken.get(name, Res()) + job.demand
                out.admit.append(adm)
                admitted[name].append(job.id)
                sim.usage[name] = sim.usage[name] + job.demand
                sim.running[name] += 1
                pool = sim.pool[name]
                sim.used[pool] = sim.used[pool] + job.demand
            else:
                if not head_open[name]:
                    memo.setdefault(name, {})[(d.cpu, d.memory, d.gpu)] = pending
                head_open[name] = False
                if hold:
                    # Its later jobs all wait behind this head and the team admits nothing more
                    # in this pass: explain them now and drop the team from the heap (its turns
                    # would change nothing for the other teams).
                    if explain:
                        msg = (f"job {job.id} ahead in team {name} waited past the "
                               "head-of-line bound and goes first")  # fmt: skip
                        for j in queue[cursor[name] :]:
                            out.pending[j.id] = Pending(WAITING_FOR_HIGHER_PRIORITY, msg)
                    continue
        if limit is not None and len(out.admit) >= limit:
            return out
        if cursor[name] < len(queue):
            share = sim.share(team) if adm_now else last_share
            heapq.heappush(heap, (share, last[name], queue[cursor[name]].submitted, name))
    if limit is not None:
        return out  # a worker's decision needs no positions
    now_ids = {a.job_id for a in out.admit}
    waiting = {}
    for t in state.teams:
        waiting[t.name] = [j.id for j in t.queue if j.id not in now_ids]
        out.team_order[t.name] = admitted[t.name] + waiting[t.name]
        out.shares[t.name] = round(dominant_share(t.usage, state.capacity, t.weight), 4)
    teams_now = tuple(a.team for a in out.admit)
    out.global_order = [a.job_id for a in out.admit] + _interleave(
        state, waiting, sim.usage, teams_now
    )
    return out


def _interleave(
    state: ClusterState,
    order: dict[str, list[int]],
    usage: dict[str, Res],
    admitted_now: tuple[str, ...] = (),
) -> list[int]:
    """Estimated admission order across teams: repeatedly the team with the lowest weighted
    share takes its next job, as if capacity freed up in time."""
    demand_of = {j.id: j.demand for t in state.teams for j in t.queue}
    sub = {j.id: j.submitted for t in state.teams for j in t.queue}
    teams = {t.name: t for t in state.teams}
    use = dict(usage)
    idx = {name: 0 for name in order}
    last = {t.name: t.last_admitted for t in state.teams}
    for name in admitted_now:
        last[name] = state.now
    step = 0
    heap = [(dominant_share(use[n], state.capacity, teams[n].weight), last[n], sub[ids[0]], n)
            for n, ids in order.items() if ids]  # fmt: skip
    heapq.heapify(heap)
    out = []
    while heap:
        _, _, _, n = heapq.heappop(heap)
        job_id = order[n][idx[n]]
        out.append(job_id)
        idx[n] += 1
        step += 1
        last[n] = state.now + step  # later in the estimated sequence
        use[n] = use[n] + demand_of[job_id]
        if idx[n] < len(order[n]):
            share = dominant_share(use[n], state.capacity, teams[n].weight)
            heapq.heappush(heap, (share, last[n], sub[order[n][idx[n]]], n))
    return out
