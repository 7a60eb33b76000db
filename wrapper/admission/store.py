"""Admission's Redis edge: loads the snapshot `wrapper.admission.plan` decides on (team queues,
reservations, the cached cluster capacity, recent admission rate), applies one admission with
the ADMIT script (re-checked atomically, so concurrent workers never over-commit), caches the
cluster capacity, and owns the wake-up list idle workers block on.

Reservations are given back by `JobStore.transition` when a job ends (the TRANSITION script).
"""

import gc
import json
import math
import secrets
import threading
import time

from redis import Redis

from wrapper import admission
from wrapper.admission import (
    Admission,
    Candidate,
    ClusterState,
    Pool,
    Res,
    TeamState,
    nominations,
    rooms,
)
from wrapper.admission.cache import CacheWriter, NodeView, read_bound, read_nodes
from wrapper.admission.limits import (
    admission_rate,
    borrowing_of,
    cap_of,
    int_or_zero,
    quota_of,
    res_of_hash,
)
from wrapper.admission.ordering import queue_entries, size_ordered
from wrapper.admission.refusal import NO_NODES, NeverFitsCheck
from wrapper.clock import epoch, utcnow
from wrapper.config import TrainqConfig
from wrapper.jobs.states import JobStatus, can_transition
from wrapper.jobs.store import JobStore
from wrapper.redis import keys, scripts
from wrapper.redis.signals import signal_change

# A cached capacity older than this is refreshed by whoever needs it (a periodic list when no
# watcher keeps it current with its node and pod watches, which confirm it every third of it).
CAPACITY_MAX_AGE_S = 30.0
KNOWN_JOBS_MAX = 200_000  # parsed queued jobs kept per process
# A submission's never-fits check may use a node list this old (capacity changes are rare;
# admission itself always checks against the current figures).
NODES_REREAD_S = 1.0
# Every queue is read again at least this often, whatever the versions say (a change made
# outside trainq's scripts, such as `rq empty`, bumps no version).
QUEUE_REREAD_ALL_S = 30.0
assert can_transition(JobStatus.QUEUED, JobStatus.DISPATCHING)  # what ADMIT does


_NO_POOLS: dict = {}  # (one object: a team's state is made again when its pools object moves)


class AdmissionStore:
    def __init__(self, store: JobStore, config: TrainqConfig, exclusive: bool = False):
        """exclusive: one thread takes the snapshots (a worker): the node rooms they hold are
        kept in place between loads instead of copied."""
        self.store, self.config = store, config
        self._exclusive = exclusive
        self.redis: Redis = store.redis
        self._admit = scripts.Admit(self.redis, config.events.max_per_team)
        self.team_pool: dict[str, str] = {}  # as of the last `load`
        self._queued_jobs: dict[int, Candidate] = {}
        # team -> (queue version, queued jobs in order, re-dispatch ids), as last read
        self._queues: dict[str, tuple[bytes | None, tuple[Candidate, ...], list[int]]] = {}
        self._epoch: bytes | None = None
        self._queues_lookahead: int | None = None
        self._reread_at = -math.inf  # monotonic time of the last periodic re-read
        self._reread_next = 0  # the team the periodic re-read goes on from
        self._reread_credit = 0.0  # teams due for it, not re-read yet
        # Parsed once: quantities in the config never change within a process.
        self._limits = {t.name: (quota_of(t), borrowing_of(t)) for t in config.teams}
        self.pool_map: dict[str, Pool] = {}
        self.placement_version = "0"  # as of the last `load`
        self._never_fits = NeverFitsCheck(config)
        self._loading = threading.Lock()
        self._writer = CacheWriter(self.redis)
        self._view = NodeView(self.redis, [t.name for t in config.teams], self.pools, exclusive)
        self._states_list: list = []  # every team's state as of the last load, in order
        self._states_tuple: tuple[TeamState, ...] | None = None
        self._states_pools: dict | None = None  # the team pools those were made with
        self._teams_by_name = {t.name: t for t in config.teams}
        self._order = {t.name: n for n, t in enumerate(config.teams)}
        self._encoded = [(t.name, t.name.encode()) for t in config.teams]
        self._redispatching: set[str] = set()  # teams with re-dispatches in their queue

    # --- cluster capacity cache (wrapper.admission.cache) -----------------------------------
    # Per node: its allocatable, labels, taints, pod slots and "used" (what the counted pods
    # bound to it request: cpu, memory, gpu, pods); per trainq job: {node: its pods bound
    # there}; "updated_at": when a reader last confirmed the two against the cluster.
    def nodes(self) -> tuple[list[dict] | None, float | None]:
        """The cached schedulable nodes (compact) and when they were read (None: never)."""
        return read_nodes(self.redis)

    def bound(self) -> dict[str, dict[str, int]] | None:
        """Where this instance's jobs have pods: job id (a string) -> {node: pods bound there}
        (None: never read)."""
        return read_bound(self.redis)

    def write_nodes(self, nodes: list[dict], bound: dict[str, dict[str, int]]) -> bool:
        """Cache a fresh reading. Only what changed is written (and wakes a worker: capacity
        may have grown); otherwise only `updated_at` moves. True when it changed."""
        return self._writer.write(nodes, bound)

    @property
    def lookahead(self) -> int:
        return self.config.admission.lookahead

    def new_job_place(self, team: str, priority: int) -> tuple[int, int]:
        """(the team queue's depth, how many entries a job submitted now would have ahead)."""
        return self.store.queues.place_of_new(team, priority)

    def capacity_is_stale(self) -> bool:
        """No reading for CAPACITY_MAX_AGE_S: no watcher keeps the cache current."""
        updated = self.redis.hget(keys.CAPACITY, "updated_at")
        return updated is None or time.time() - float(updated) > CAPACITY_MAX_AGE_S

    def pools(self, nodes: list[dict] | None) -> tuple[dict[str, str], dict[str, Pool], Res | None]:
        """Each team's pool, the pools, and the total capacity (None: nodes unknown)."""
        if nodes is None:
            return {}, {}, None
        placements = {t.name: (dict(getattr(t, "node_selector", {}) or {}),
                               [tol.pod_spec() for tol in getattr(t, "tolerations", [])])
                      for t in self.config.teams}  # fmt: skip
        return admission.pools_for(nodes, placements, cap_of(self.config))

    def _refresh_view(self, max_age: float = 0.0) -> None:
        """Bring the node view up to date (a submission's check accepts one max_age old)."""
        view = self._view
        if time.monotonic() - view.read_at <= max_age:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            view.queue_reads(pipe)
            view.apply(*pipe.execute())

    # --- snapshot ------------------------------------------------------------------------
    def load(self, lookahead: int | None = None,
             read_only: bool = False) -> tuple[ClusterState, list[tuple[str, int]]]:  # fmt: skip
        """The snapshot for a decision, and queue entries that are re-dispatches (a job still
        `dispatching` whose lease expired: it keeps its reservation). Only the team queues
        whose version changed since this process last read them are read again. read_only:
        write nothing, not even the queue-epoch token (a dry run promises no write)."""
        # The API's threads share this store (its parsed-queue cache is refilled in place).
        with self._loading:
            return self._load(lookahead, read_only)

    def _load(self, lookahead: int | None,
              read_only: bool) -> tuple[ClusterState, list[tuple[str, int]]]:  # fmt: skip
        teams = self.config.teams
        now = time.time()
        window = self.config.admission.eta_window_seconds
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(keys.QUEUE_EPOCH)
            pipe.hgetall(keys.QUEUE_VERSIONS)
            pipe.zrangebyscore(keys.ADMITTED_EVENTS, now - window, "+inf", withscores=True)
            pipe.get(keys.PLACEMENT_VERSION)
            # Jobs re-queued after their pods were not ready, still in backoff (a handful).
            pipe.zrangebyscore(keys.ADMISSION_BACKOFF, f"({now}", "+inf", withscores=True)
            pipe.hgetall(keys.NOMINATIONS)  # (preemptors: a handful at most)
            # What changed in the nodes, placements and usage (read next, that only).
            self._view.queue_reads(pipe)
            epoch, versions, events, pversion, backoff, nominated, *changes = pipe.execute()
        stale = self._refresh_queues(teams, lookahead, epoch, versions, read_only)
        self._reread_at = time.monotonic()
        read_all = len(stale) == len(teams)
        view = self._view
        view.apply(*changes)
        team_pool, pools, total = (view.team_pool, view.pools, view.total) if view.written \
            else (_NO_POOLS, _NO_POOLS, None)  # fmt: skip
        self.team_pool, self.pool_map = team_pool, pools
        self.placement_version = (pversion or b"0").decode()
        node_state, index = view.rooms() if self.config.admission.placement == "nodes" \
            else (None, None)  # fmt: skip
        states = self._states(teams, team_pool, stale, view)
        state = ClusterState(
            teams=states,
            capacity=total,
            now=now,
            head_wait_seconds=self.config.admission.head_wait_seconds,
            admission_rate=admission_rate(events, now),
            pools=pools,
            nodes=node_state,
            index=index,
            backoff={int(k): float(v) for k, v in backoff},
            nominated=nominations.of_queued(nominated, now, states),
            size_credit_seconds=self.config.admission.size_credit_seconds,
        )
        redispatch = [(name, i) for name in sorted(self._redispatching, key=self._order.get)
                      for i in self._queues[name][2]]  # fmt: skip
        if read_all:  # (a first load takes seconds past its reads: they are fresh, no credit)
            self._reread_at = time.monotonic()
            if self._exclusive:
                # A worker keeps what it parsed for its life (~100k jobs): out of the
                # collector's sight, a full collection no longer walks them (a tail of tens of
                # ms on a decision otherwise).
                gc.freeze()
        return state, redispatch

    def _states(self, teams, team_pool: dict[str, str], stale: list[str],
                view: NodeView) -> tuple[TeamState, ...]:  # fmt: skip
        """Every team's state, made again only for the teams whose queue was re-read or whose
        usage changed (all when the pools moved)."""
        made = self._states_list
        if team_pool is not self._states_pools or len(self._states_list) != len(teams):
            dirty = [t.name for t in teams]
            self._states_pools = team_pool
            made[:] = [None] * len(teams)
        else:
            dirty = set(stale) | view.usage_changed
        by_name = self._teams_by_name
        for name in dirty:
            t = by_name[name]
            u = view.usage.get(name, {})
            quota, borrowing = self._limits[name]
            made[self._order[name]] = TeamState(
                name=name, weight=t.weight, quota=quota, max_jobs=t.quota.max_running_jobs,
                borrowing_limit=borrowing, usage=res_of_hash(u),
                running=int_or_zero(u.get(b"jobs")),
                queue=self._queues[name][1], pool=team_pool.get(name, ""),
                last_admitted=float(u.get(b"last_admitted") or 0),
            )  # fmt: skip
        if dirty or self._states_tuple is None:
            self._states_tuple = tuple(made)
        return self._states_tuple

    def _refresh_queues(self, teams, lookahead: int | None, epoch: bytes | None,
                        versions: dict[bytes, bytes], read_only: bool) -> list[str]:  # fmt: skip
        """Re-read the queues whose version changed (or all: after a Redis flush, which the
        missing epoch token shows, or for another lookahead); besides, every queue at least
        once per QUEUE_REREAD_ALL_S, spread over the loads (a slice per load, in rotation, in
        proportion to the time since the last), so no single load re-reads them all.
        read_only: leave a missing token missing (the next load then reads all again)."""
        monotonic = time.monotonic()
        if epoch is None or epoch != self._epoch or lookahead != self._queues_lookahead:
            if epoch is None and not read_only:
                self.redis.set(keys.QUEUE_EPOCH, secrets.token_hex(8), nx=True)
                epoch = self.redis.get(keys.QUEUE_EPOCH)
            self._queues.clear()
            self._redispatching.clear()
            self._epoch, self._queues_lookahead = epoch, lookahead
        elif teams:
            n = len(teams)
            period = QUEUE_REREAD_ALL_S
            # Teams due, as a running credit (a load right after another re-reads none).
            self._reread_credit += n * (monotonic - self._reread_at) / period if period > 0 \
                else n  # fmt: skip
            count = min(n, int(self._reread_credit))
            self._reread_credit = min(self._reread_credit - count, n)
            for i in range(count):
                self._queues.pop(teams[(self._reread_next + i) % len(teams)].name, None)
            self._reread_next = (self._reread_next + count) % len(teams)
        cached = self._queues
        stale = [
            name
            for name, key in self._encoded
            if (c := cached.get(name)) is None or c[0] is None or c[0] != versions.get(key)
        ]
        if not stale:
            return stale
        end = -1 if lookahead is None else lookahead - 1
        credit = self.config.admission.size_credit_seconds
        with self.redis.pipeline(transaction=False) as pipe:
            for name in stale:
                # (with a size credit, the scores tell the entries put back at the front)
                pipe.zrange(keys.team_queue(name), 0, end, withscores=credit > 0)
            lists, fronts = queue_entries(pipe.execute(), credit > 0)
        # (a change after the versions were read leaves an older version with newer ids: the
        # next load reads that queue again)
        queued, redispatch = self._classify([i for ids in lists for i in ids])
        known = self._queued_jobs
        for name, ids, front in zip(stale, lists, fronts, strict=True):
            again = [i for i in ids if i in redispatch]
            queue = tuple(known[i] for i in ids if i in queued)
            if credit > 0:
                queue = size_ordered(queue, credit, sum(1 for j in queue if j.id in front))
            cached[name] = (versions.get(name.encode()), queue, again)
            if again:
                self._redispatching.add(name)
            else:
                self._redispatching.discard(name)
        return stale

    def _classify(self, ids: list[int]) -> tuple[set[int], set[int]]:
        """Which queue entries are queued jobs (parsed into `_queued_jobs` on first sight: a
        queued job's demand, priority and submission never change) and which re-dispatches.
        One SMISMEMBER on the queued index answers for all; only the rest are read."""
        known = self._queued_jobs
        if len(known) > KNOWN_JOBS_MAX:
            known.clear()
        if not ids:
            return set(), set()
        unknown = [i for i in ids if i not in known]
        flags, rows = self.store.queued_flags(ids, unknown, ("spec", "submitted_at"))
        for job_id, (spec, submitted) in zip(unknown, rows, strict=True):
            if spec is not None:
                known[job_id] = Candidate.of_spec(job_id, spec, epoch(submitted))
        queued = {i for i, f in zip(ids, flags, strict=True) if f and i in known}
        others = [i for i in ids if i not in queued]
        if not others:
            return queued, set()
        statuses = self.store.statuses(others)
        dispatching = JobStatus.DISPATCHING.value
        return queued, {i for i, st in zip(others, statuses, strict=True) if st == dispatching}

    def never_fits(self, team_name: str, spec: dict) -> list[dict]:
        """Field errors for a request that can never be admitted (422 at submission): more
        than the team's quota plus borrowing limit, or than the whole cluster (capped)."""
        with self._loading:
            self._refresh_view(NODES_REREAD_S)
            view = self._view
            inputs = (view.team_pool, view.pools, view.total, view.biggest) if view.written \
                else NO_NODES  # fmt: skip
        return self._never_fits(team_name, spec, inputs)

    # --- applying a decision -------------------------------------------------------------
    def admit(self, adm: Admission, lease_seconds: float,
              wake_another: bool = False) -> tuple[str, str | None]:  # fmt: skip
        """Reserve and claim one job atomically (after `load`, which knows the pools).
        Returns ('admitted'|'redispatch'|'stale', None), or ('quota'|'capacity', resource)
        when it no longer fits (another worker was faster). wake_another: on success, wake
        another idle worker in the same step (more jobs are admissible)."""
        pool = self.pool_map.get(adm.pool)
        sharing = [t for t, p in self.team_pool.items() if pool and p in pool.overlaps]
        placed = rooms.placement_json(adm.demand, adm.placement, time.time() + adm.max_runtime) \
            if adm.placement else ""  # fmt: skip
        return self._run(adm.team, adm.job_id, adm.demand, adm.team_limit, adm.max_jobs,
                         adm.capacity, lease_seconds, sharing or [adm.team],
                         wake_another, placed)  # fmt: skip

    def redispatch(self, team: str, job_id: int, lease_seconds: float) -> bool:
        zero = Res()
        outcome, _ = self._run(team, job_id, zero, zero, 0, zero, lease_seconds, [team])
        return outcome == "redispatch"

    def _run(self, team, job_id, d: Res, limit: Res, max_jobs, cap: Res, lease_seconds,
             sharing: list[str], wake: bool = False, placement: str = ""):  # fmt: skip
        now = time.time()
        return self._admit(
            team=team, job_id=job_id, queue_key=keys.team_queue(team),
            queued=JobStatus.QUEUED.value, dispatching=JobStatus.DISPATCHING.value,
            lease_deadline=now + lease_seconds, admitted_at=json.dumps(utcnow()),
            demand=(d.cpu, d.memory, d.gpu), team_limit=(limit.cpu, limit.memory, limit.gpu),
            max_jobs=max_jobs, capacity=(cap.cpu, cap.memory, cap.gpu), sharing=sharing,
            now=now, events_since=now - self.config.admission.eta_window_seconds,
            wake_another=wake, placement=placement, placement_version=self.placement_version,
        )  # fmt: skip

    def version(self) -> bytes | None:
        """The admission version: it moves whenever something an admission plan reads changed
        (a cached view is current while it stays put)."""
        return self.redis.get(keys.ADMISSION_VERSION)

    # --- waking idle workers -------------------------------------------------------------
    def wake(self, n: int = 1) -> None:
        with self.redis.pipeline() as pipe:
            signal_change(pipe, plan=False, wake=n)
            pipe.execute()

    def wait(self, timeout: float) -> bool:
        """Block until something may have become admissible (a submission, a job ending, a
        re-queue, a capacity change) or timeout; True when woken."""
        return self.redis.blpop([keys.ADMISSION_WAKE], timeout=max(timeout, 0.01)) is not None
