"""The node and pod cache in Redis, and a process's incremental view of it.

Writing (`CacheWriter`): the watcher (or a worker that finds no watcher keeping the cache)
hands in its whole picture; only the nodes and jobs whose entry changed are written, one hash
field each, and each change is logged (`keys.CHANGES`).

Reading (`NodeView`): a snapshot reads the log since its last one and only the entries it names
(nodes, jobs' bound pods and placements, teams' usage), so a load costs what changed, not the
node count. Pools are worked out again only when a node's labels, taints or allocatable moved
(or a node came or went); rooms and the placement index move node by node."""

import json
import math
import time
from collections.abc import Callable

from redis import Redis

from wrapper.admission import rooms as R
from wrapper.admission.index import NodeIndex
from wrapper.admission.placement import Node
from wrapper.admission.pools import Pool
from wrapper.admission.resources import Res
from wrapper.redis import keys
from wrapper.redis.scripts.capacity import WriteCapacity

RESYNC_S = 30.0  # a writer compares with what Redis holds (not its memory) at least this often
MAX_READ = 20_000  # changes read per snapshot; more: read everything


def _encode(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _diff(kind: str, old: dict[str, bytes], new: dict[str, bytes]) -> list[tuple]:
    out = [(kind, k, v) for k, v in new.items() if old.get(k) != v]
    return out + [(kind, k, "") for k in old.keys() - new.keys()]


class CacheWriter:
    def __init__(self, redis: Redis):
        self.redis = redis
        self._write = WriteCapacity(redis)
        self._written: tuple[dict[str, bytes], dict[str, bytes]] | None = None
        self._synced_at = -math.inf

    def write(self, nodes: list[dict], bound: dict[str, dict[str, int]]) -> bool:
        """Cache a fresh reading; True when something changed (only `updated_at` moves
        otherwise)."""
        new = ({n["name"]: _encode(n) for n in nodes},
               {str(j): _encode(on) for j, on in bound.items()})  # fmt: skip
        fresh = self._written is None or time.monotonic() - self._synced_at > RESYNC_S
        for _ in range(2):
            old = self._read_written() if fresh else self._written
            changes = _diff("n", old[0], new[0]) + _diff("b", old[1], new[1])
            done = self._write(now=time.time(), cached=(len(old[0]), len(old[1])),
                               changes=changes)  # fmt: skip
            if done >= 0:
                break
            fresh = True  # Redis holds something else (it lost its data): compare with it
        self._written = new if done >= 0 else None  # (a racing writer: compare next time)
        return bool(changes) and done >= 0

    def _read_written(self) -> tuple[dict[str, bytes], dict[str, bytes]]:
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.CACHED_NODES)
            pipe.hgetall(keys.CACHED_BOUND)
            old = tuple({k.decode(): v for k, v in h.items()} for h in pipe.execute())
        self._synced_at = time.monotonic()
        return old


def read_nodes(redis: Redis) -> tuple[list[dict] | None, float | None]:
    """The cached schedulable nodes (by name) and when they were confirmed (None: never)."""
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.CACHED_NODES)
        pipe.hget(keys.CAPACITY, "updated_at")
        raw, updated = pipe.execute()
    if updated is None:
        return None, None
    return [json.loads(raw[k]) for k in sorted(raw)], float(updated)


def read_bound(redis: Redis) -> dict[str, dict[str, int]] | None:
    with redis.pipeline(transaction=False) as pipe:
        pipe.hgetall(keys.CACHED_BOUND)
        pipe.hget(keys.CAPACITY, "updated_at")
        raw, updated = pipe.execute()
    return None if updated is None else {k.decode(): json.loads(v) for k, v in raw.items()}


PoolsOf = Callable[[list[dict]], tuple[dict[str, str], dict[str, Pool], Res | None]]


class NodeView:
    """A process's copy of the cache and of the teams' usage, kept from the change log.

    exclusive: one thread uses the snapshots (a worker): the rooms and index handed out are
    moved in place by the next refresh. Otherwise (the API's threads) each refresh that changed
    something hands out copies."""

    def __init__(self, redis: Redis, teams: list[str], pools_of: PoolsOf, exclusive: bool):
        self.redis, self.teams, self.pools_of, self.exclusive = redis, teams, pools_of, exclusive
        self.seq: int | None = None  # the last change applied (None: read everything next)
        self.written = False  # the cache was ever written (else the nodes are not known)
        self.ledger = R.NodeLedger()
        self.usage: dict[str, dict] = {}  # team -> its usage hash
        self.usage_changed: set[str] = set()  # teams whose usage the last refresh read
        self.team_pool: dict[str, str] = {}
        self.pools: dict[str, Pool] = {}
        self.total: Res | None = None
        self.biggest: dict[str, Res | None] = {}  # pool -> its largest node (never-fits)
        self.index: NodeIndex | None = None
        self._shapes: dict[str, tuple] = {}
        self._handed: tuple[dict[str, Node], NodeIndex] | None = None  # copies (not exclusive)
        self.read_at = -math.inf  # monotonic

    def queue_reads(self, pipe) -> None:
        """Queue what tells what changed on `pipe` (the snapshot's first round trip)."""
        pipe.get(keys.CHANGE_SEQ)
        pipe.get(keys.CHANGES_FLOOR)
        pipe.zrangebyscore(keys.CHANGES, f"({self.seq or 0}", "+inf", withscores=True, start=0,
                           num=MAX_READ)  # fmt: skip
        pipe.hget(keys.CAPACITY, "updated_at")

    def apply(self, seq, floor, changes, updated) -> None:
        """Bring the view up to date from queue_reads' answers (one more round trip at most)."""
        self.read_at = time.monotonic()
        self.written = updated is not None
        self.usage_changed = set()
        seq = int(seq or 0)
        if (self.seq is None or seq < self.seq or (floor and int(float(floor)) > self.seq)
                or len(changes) >= MAX_READ):  # fmt: skip
            return self._read_all()
        if not changes:
            return
        by_kind: dict[str, list[str]] = {"n": [], "b": [], "p": [], "u": []}
        for member, _ in changes:
            kind, _, name = member.decode().partition(":")
            by_kind[kind].append(name)
        with self.redis.pipeline(transaction=False) as pipe:
            for kind, key in (("n", keys.CACHED_NODES), ("b", keys.CACHED_BOUND),
                              ("p", keys.PLACEMENTS)):  # fmt: skip
                if by_kind[kind]:
                    pipe.hmget(key, by_kind[kind])
            for team in by_kind["u"]:
                pipe.hgetall(keys.team_usage(team))
            answers = iter(pipe.execute())
        values = {k: (next(answers) if by_kind[k] else []) for k in ("n", "b", "p")}
        for team in by_kind["u"]:
            self.usage[team] = next(answers)
        self.usage_changed = set(by_kind["u"])
        self._apply(dict(zip(by_kind["n"], values["n"], strict=True)),
                    dict(zip(by_kind["b"], values["b"], strict=True)),
                    dict(zip(by_kind["p"], values["p"], strict=True)))  # fmt: skip
        self.seq = max(self.seq, int(changes[-1][1]))

    def _read_all(self) -> None:
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.get(keys.CHANGE_SEQ)
            pipe.hgetall(keys.CACHED_NODES)
            pipe.hgetall(keys.CACHED_BOUND)
            pipe.hgetall(keys.PLACEMENTS)
            for team in self.teams:
                pipe.hgetall(keys.team_usage(team))
            seq, nodes, bound, placements, *usages = pipe.execute()
        self.usage = dict(zip(self.teams, usages, strict=True))
        self.usage_changed = set(self.teams)
        self.ledger, self._shapes = R.NodeLedger(), {}
        self._apply({k.decode(): v for k, v in nodes.items()},
                    {k.decode(): v for k, v in bound.items()},
                    {k.decode(): v for k, v in placements.items()}, rebuild=True)  # fmt: skip
        self.seq = int(seq or 0)

    def _apply(self, nodes: dict[str, bytes | None], bound: dict[str, bytes | None],
               placements: dict[str, bytes | None], rebuild: bool = False) -> None:  # fmt: skip
        ledger = self.ledger
        before = {}  # node -> its free gpus before (the index moves it)
        reshaped = rebuild
        for name, raw in nodes.items():
            entry = json.loads(raw) if raw else None
            shape = R.shape_of(entry) if entry else None
            if shape != self._shapes.get(name):
                reshaped = True
                _put(self._shapes, name, shape)
            if name in ledger.rooms:
                before.setdefault(name, ledger.rooms[name][2])
            ledger.set_node(name, entry)
        for which, table in (("bound", bound), ("placement", placements)):
            for job, raw in table.items():
                value = json.loads(raw) if raw else None
                for name in ledger.rooms.keys() & _nodes_of(ledger, job, which, value):
                    before.setdefault(name, ledger.rooms[name][2])
                if which == "bound":
                    ledger.set_job(job, bound=value, which="bound")
                else:
                    ledger.set_job(job, value, which="placement")
        if reshaped:
            self._repool()
        elif self.index is not None:
            for name, gpu in before.items():
                if name in ledger.rooms:
                    self.index.moved(name, gpu)
        self._handed = None

    def _repool(self) -> None:
        compact = [self.ledger.compact[n] for n in sorted(self.ledger.compact)]
        self.team_pool, self.pools, self.total = self.pools_of(compact)
        nodes = self.ledger.nodes
        self.biggest = {pid: R.largest(nodes, p.nodes) for pid, p in self.pools.items()}
        self.index = NodeIndex(self.ledger.nodes, self.ledger.rooms,
                               {pid: p.nodes for pid, p in self.pools.items()})  # fmt: skip

    def rooms(self) -> tuple[dict[str, Node] | None, NodeIndex | None]:
        """The nodes' rooms and their index for a snapshot (None: the rooms are not known)."""
        if not self.written or not self.ledger.known or self.index is None:
            return None, None
        if self.exclusive:
            return self.ledger.nodes, self.index
        if self._handed is None:
            nodes = dict(self.ledger.nodes)
            index = NodeIndex(nodes, {n: list(r) for n, r in self.ledger.rooms.items()},
                              {pid: p.nodes for pid, p in self.pools.items()})  # fmt: skip
            self._handed = (nodes, index)
        return self._handed


def _put(table: dict, key, value) -> None:
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value


def _nodes_of(ledger: R.NodeLedger, job: str, which: str, value) -> set[str]:
    """The nodes a job's change may move: where it was counted or bound, before and after."""
    out = set((ledger.placements.get(job) or {}).get("nodes", ()))
    out |= set(ledger.bound.get(job, {}))
    if value:
        out |= set(value.get("nodes", ())) if which == "placement" else set(value)
    return out
