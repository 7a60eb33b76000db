"""One pass of the admission policy (wrapper.admission.policy) over a snapshot: its working
state, the check of one job against its team's quota and borrowing limit and the capacity (and
nodes) its pool has left. The answers' types and reasons are in `reasons`, why a job waits in
words in `waits`, the order of turns and a worker's early stop in `turns`."""

import math
from collections import defaultdict

import wrapper.admission.holds as holds
import wrapper.admission.waits as waits
from wrapper.admission.claims import Claims
from wrapper.admission.index import ALL, NodeIndex, PassRooms
from wrapper.admission.placement import fits_on
from wrapper.admission.pools import Pool
from wrapper.admission.reasons import (
    BORROWING_LIMIT_REACHED,
    WAITING_FOR_BACKOFF,
    WAITING_FOR_CAPACITY,
    WAITING_FOR_FAIR_SHARE,
    WAITING_FOR_QUOTA,
    Admission,
    Pending,
)
from wrapper.admission.resources import Res, fmt, fmt_res
from wrapper.admission.snapshot import Candidate, ClusterState, Nomination, TeamState

# A backfilled job must be due to end this long before the held nodes drain: its pods start
# (and its deadline counts) a little after its admission.
BACKFILL_SLACK_S = 5.0


def dominant_share(usage: Res, capacity: Res | None, weight: float) -> float:
    """max over resources of used/total, divided by the team's weight (DRF, Armada's c_i/w_i)."""
    return share_of(usage.cpu, usage.memory, usage.gpu, capacity, weight)


def share_of(cpu: int, memory: int, gpu: int, capacity: Res | None, weight: float) -> float:
    """dominant_share of plain ints (for the loops that run once per job)."""
    if capacity is None:
        return 0.0
    share = cpu / capacity.cpu if capacity.cpu > 0 else 0.0
    if capacity.memory > 0 and (r := memory / capacity.memory) > share:
        share = r
    if capacity.gpu > 0 and (r := gpu / capacity.gpu) > share:
        share = r
    return share / weight


def _total(amounts: list[Res]) -> Res:
    """The sum, in plain ints (one Res instead of one per addition)."""
    return Res(sum(a.cpu for a in amounts), sum(a.memory for a in amounts),
               sum(a.gpu for a in amounts))  # fmt: skip


def _one_shared_pool(state: ClusterState) -> str | None:
    """The id of the only pool when every team's pods may use exactly its nodes, else None."""
    if len(state.pools) != 1:
        return None
    (only,) = state.pools
    return only if all(t.pool == only for t in state.teams) else None


class PassState:
    """Mutable working state of one planning pass. Per-team state is kept only for the teams
    the pass changed (usage, running): setting it up for every team would cost more than a
    worker's whole decision at 1,000 teams."""

    def __init__(self, state: ClusterState, explain: bool = True):
        self.state = state
        self.explain = explain  # build the pending messages (not for a worker's decision)
        self.cap = state.capacity
        self.now, self.head_wait = state.now, state.head_wait_seconds
        shared = _one_shared_pool(state)
        if state.pools and shared is None:
            self.pools = state.pools
            self.pool = {t.name: t.pool if t.pool in self.pools else "" for t in state.teams}
            if "" not in self.pools and "" in self.pool.values():
                # a team with no nodes
                self.pools = {**self.pools, "": Pool(Res(), frozenset({""}))}
            by_pool: dict[str, list[Res]] = {p: [] for p in self.pools}
            for t in state.teams:
                by_pool[self.pool[t.name]].append(t.usage)
            self.used = {p: _total(u) for p, u in by_pool.items()}  # reserved by each pool's teams
        else:  # one pool, every team's: the common case, and a worker's hot path
            if shared is None:
                shared, self.pools = "", {"": Pool(state.capacity, frozenset({""}))}
            else:
                self.pools = state.pools
            self.pool = defaultdict(lambda: shared)
            cpu = memory = gpu = 0
            for t in state.teams:
                u = t.usage
                cpu, memory, gpu = cpu + u.cpu, memory + u.memory, gpu + u.gpu
            self.used = {shared: Res(cpu, memory, gpu)}
        self.usage: dict[str, Res] = {}  # team -> usage, once this pass admitted some of its jobs
        self.running: dict[str, int] = {}  # team -> running jobs, likewise
        self.held = {p: Res() for p in self.pools}  # held for heads past the bound
        self.holders: dict[str, list[tuple[int, str]]] = {p: [] for p in self.pools}  # job, team
        self.backoff = state.backoff  # job id -> not admitted before (epoch)
        self.misfits = 0  # jobs found not to fit the capacity left (a worker's stop test reads it)
        # team -> none of its jobs before this index fits (none_can_fit: they never will)
        self.misfit_to: dict[str, int] = {}
        # Per pool, what a job may take now (free less held) as ints; dropped on every change.
        self._avail: dict[str, tuple[int, int, int]] = {}
        # Teams' claims on their unused quota, worked out on first use (only borrowing needs
        # them); per pool, those of the teams that may use its nodes, until the next admission.
        self.claims = Claims(state.backoff)
        self._entitled: dict[str, tuple[Res, dict[str, Res]]] = {}
        self.capacity_waiter: dict[str, str] = {}  # pool -> first team found waiting there
        # Per node, the room left as this pass counts admissions on it (None: nodes unknown).
        # The nodes by free gpus (shared, kept by the snapshot's owner; built here for a
        # snapshot made without one) and this pass's view of their rooms.
        self.index: NodeIndex | None = None
        self.rooms: PassRooms | None = None
        if state.nodes is not None:
            self.index = state.index or NodeIndex(
                state.nodes, {n: node.room() for n, node in state.nodes.items()},
                {pid: p.nodes for pid, p in state.pools.items()})  # fmt: skip
            self.rooms = PassRooms(self.index)
        self._ever: dict[tuple, bool] = {}  # (pool, replicas, replica) -> can ever be placed
        self.binds: dict[str, bool] = {}  # pool -> its sum may bind (holds.sum_binds)
        # Jobs admitted onto held nodes must have ended by then (epoch; -inf: no backfill).
        self.backfill_until = math.inf
        # Preemptors' held room (job id -> nomination), until the pass reaches them.
        self.nominees: dict[int, Nomination] = {}
        if state.nominated:
            names = {t.name for t in state.teams}
            for job_id, nom in state.nominated.items():
                if nom.team in names:
                    self.nominate(job_id, nom)

    def nominate(self, job_id: int, nom: Nomination, sign: int = 1) -> None:
        """Hold a nomination's room from the other jobs of this pass (sign -1: give it back)."""
        pool = self.pool[nom.team]
        self.held[pool] = self.held[pool] + nom.demand.scale(sign)
        if self.rooms is not None and nom.nodes:
            (self.rooms.take if sign > 0 else self.rooms.give)(nom.each, nom.nodes)
        if sign > 0:
            self.nominees[job_id] = nom
        self._avail.clear()
        self.misfit_to.clear()

    def usage_of(self, team: TeamState) -> Res:
        return self.usage.get(team.name, team.usage)

    def admit(self, team: TeamState, d: Res, job: Candidate | None = None,
              placed: tuple[str, ...] = ()) -> None:  # fmt: skip
        pool = self.pool[team.name]
        if placed and self.rooms is not None and job is not None:
            self.rooms.take(job.replica(), placed)
        self.count_for_team(team, d, job)
        self.used[pool] = self.used[pool] + d
        self._avail.clear()
        if d.cpu < 0 or d.memory < 0 or d.gpu < 0:
            self.misfit_to.clear()  # (it gives capacity back: see none_can_fit)

    def hold(self, pool: str, d: Res, job_id: int, team: str) -> None:
        self.held[pool] = self.held[pool] + d
        self.holders[pool].append((job_id, team))
        self._avail.clear()
        if d.cpu < 0 or d.memory < 0 or d.gpu < 0:
            self.misfit_to.clear()  # (it gives capacity back: see none_can_fit)

    def avail_changed(self) -> None:
        self._avail.clear()

    def count_for_team(self, team: TeamState, d: Res, job: Candidate | None) -> None:
        """Count `d` (job's demand) in its team's usage, job count and claims for the rest of
        the pass: an admission, or an overdue head holding nodes (holds.hold_head)."""
        name = team.name
        self.claims.admitted(name, job, d)
        self._entitled.clear()
        self.usage[name] = self.usage_of(team) + d
        self.running[name] = self.running.get(name, team.running) + 1

    def avail(self, pool: str) -> tuple[int, int, int]:
        a = self._avail.get(pool)
        if a is None:
            r = self.free(pool) - self.held_on(pool)
            a = self._avail[pool] = (r.cpu, r.memory, r.gpu)
        return a

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

    def node_names(self, pool: str) -> tuple[str, ...]:
        """The nodes a pool's teams may use (every node when there is one pool)."""
        if self.index is not None:
            return self.index.names(pool)
        return self.pools[pool].nodes if pool in self.pools else ()

    def ever_fits(self, pool: str, job: Candidate) -> bool:
        """Whether the job could be placed on its pool's nodes were they empty: their
        allocatable in sum (capped), and every replica on a node when the nodes are known."""
        d, cap = job.demand, self.pools[pool].capacity
        if (d.cpu > 0 and d.cpu > cap.cpu) or (d.memory > 0 and d.memory > cap.memory) or \
                (d.gpu > 0 and d.gpu > cap.gpu):  # fmt: skip
            return False
        if self.index is None:
            return True
        each = job.replica()
        key = (pool, job.replicas, each.cpu, each.memory, each.gpu)
        found = self._ever.get(key)
        if found is None:
            # Nodes come in a few sizes: count per size, not per node.
            sizes = self.index.sizes.get(pool) or self.index.sizes.get(ALL, {})
            fit = sum(count * fits_on(list(size), each) for size, count in sizes.items())
            found = self._ever[key] = fit >= job.replicas
        return found

    def holder_on(self, pool: str) -> tuple[int, str] | None:
        return next((h for o in self.pools[pool].overlaps for h in self.holders[o]), None)

    def share(self, team: TeamState) -> float:
        return dominant_share(self.usage_of(team), self.cap, team.weight)

    def entitled_to_others(self, team: TeamState) -> tuple[Res, bool]:
        """What a borrower must leave to the other teams sharing its nodes, and whether there
        are any: the unused quota each could use without borrowing, up to what those of its
        queued jobs need (its claim, wrapper.admission.claims), for the teams that may start a
        job now."""
        pool = self.pool[team.name]
        found = self._entitled.get(pool)
        if found is None:
            found = self._entitled[pool] = self._claims_on(pool)
        total, claims = found
        mine = claims.get(team.name)
        if mine is None:
            return total, bool(claims)
        return total - mine, len(claims) > 1

    def _claims_on(self, pool: str) -> tuple[Res, dict[str, Res]]:
        total, claims = Res(), {}
        overlaps = self.pools[pool].overlaps
        for o in self.state.teams:
            if not o.queue or self.pool[o.name] not in overlaps:
                continue  # nothing queued, or entitled to other nodes
            if self.running.get(o.name, o.running) >= o.max_jobs:
                continue  # cannot use capacity now anyway
            p = self.pool[o.name]
            claim = self.claims.of(o, self.usage_of(o), lambda j, p=p: self.ever_fits(p, j))
            if claim != Res():
                total, claims[o.name] = total + claim, claim
        return total, claims


def _exceeds(d: Res, avail: tuple[int, int, int]) -> bool:
    """Whether d asks for more of some resource than avail has: not d.fits_in(avail), on ints."""
    return bool((d.cpu and d.cpu > avail[0]) or (d.memory and d.memory > avail[1])
                or (d.gpu and d.gpu > avail[2]))  # fmt: skip


def check(
    sim: PassState, team: TeamState, job: Candidate, is_head: bool
) -> tuple[Admission | None, Pending, bool]:
    """Decide one job (`_check`), in the room held for it when it preempted others."""
    nom = sim.nominees.pop(job.id, None) if sim.nominees else None
    if nom is None:
        return _check(sim, team, job, is_head)
    sim.nominate(job.id, nom, -1)
    out = _check(sim, team, job, is_head)
    if out[0] is None:
        sim.nominate(job.id, nom)
        if sim.explain:
            msg = (
                f"jobs were preempted for it; it starts once their pods are gone ({out[1].message})"
            )
            out = (None, Pending(out[1].reason, msg), out[2])
    return out


def _check(
    sim: PassState, team: TeamState, job: Candidate, is_head: bool
) -> tuple[Admission | None, Pending, bool]:
    """Decide one job. Returns (admission or None, pending, hold) where hold says the team's
    later jobs must wait behind this one (head-of-line bound reached). Without sim.explain
    (a worker's decision, which reads only the admissions) the pending messages are left
    empty and a capacity wait's reason is not worked out."""
    d, name, pool, explain = job.demand, team.name, sim.pool[team.name], sim.explain
    if sim.backoff and job.id in sim.backoff:
        # Holds nothing and blocks no one: its team's later jobs go on (see none_can_fit).
        if not explain:
            return None, _BACKOFF, False
        wait = max(sim.backoff[job.id] - sim.now, 0.0)
        msg = f"re-queued after its pods were not ready; tries again in {wait:.0f}s"
        return None, Pending(WAITING_FOR_BACKOFF, msg), False
    if not sim.ever_fits(pool, job):
        # Holds nothing and blocks no one: holding for it would freeze its pool for good.
        sim.misfits += 1
        return None, (waits.too_large(sim, name, pool, job) if explain else _WAITS), False
    usage = sim.usage_of(team)
    overdue = is_head and sim.now - job.submitted >= sim.head_wait
    running = sim.running.get(name, team.running)
    if running + 1 > team.max_jobs:
        if not explain:
            return None, _WAITS, overdue
        msg = f"team {name} runs {running} of {team.max_jobs} jobs (max_running_jobs)"
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
    if over_quota:
        r = over_quota[0]
        used = (f"team {name} uses {fmt(r, usage.get(r))} of {fmt(r, team.quota.get(r))}"
                if explain else "")  # fmt: skip
        if team.borrowing_limit is None:
            if not explain:
                return None, _WAITS, overdue
            msg = f"needs {fmt_res(r, d.get(r))}; {used}"
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
        if others and not d.fits_in(Res(*sim.avail(pool)) - entitled):
            # A team reads this: no other team's name, usage or job ids (docs/security.md).
            msg = (
                f"needs {fmt_res(r, d.get(r))} beyond its quota ({used}); no new borrowing "
                "while another team waits for its quota"
            ) if explain else ""  # fmt: skip
            return None, Pending(WAITING_FOR_FAIR_SHARE, msg), overdue
    avail = sim.avail(pool)
    if _exceeds(d, avail):
        sim.misfits += 1
        # (explained before this job's hold below: the message names earlier holders only)
        pending = waits.capacity_pending(sim, name, pool, d, avail, overdue) if explain else _WAITS
        return None, pending, overdue and holds.hold_head(sim, team, job, short_in_sum=True)
    placed: tuple[str, ...] = ()
    if sim.rooms is not None:
        found = sim.rooms.place(job.replica(), job.replicas, pool)
        until = sim.backfill_until  # (inf: no hold, or one whose nodes' end is unknown)
        if (
            found is None
            and until < math.inf
            and sim.now + job.max_runtime + BACKFILL_SLACK_S <= until
        ):
            found = sim.rooms.place_backfill(job.replica(), job.replicas, pool)
        if found is None:
            sim.misfits += 1
            pending = waits.placement_pending(sim, pool, job, overdue) if explain else _WAITS
            return None, pending, overdue and holds.hold_head(sim, team, job, short_in_sum=False)
        placed = tuple(found)
    adm = Admission(name, job.id, d, limit, team.max_jobs, borrowing,
                    sim.pools[pool].capacity, pool, placed, job.max_runtime)  # fmt: skip
    return adm, Pending(None, "admissible now: a worker is dispatching it"), False


# A worker's decision reads only whether a job waits (plan's memo), never why; a backoff is
# told apart (it is the job's own, never shared with identical jobs behind it).
_WAITS = Pending(WAITING_FOR_CAPACITY, "")
_BACKOFF = Pending(WAITING_FOR_BACKOFF, "")
