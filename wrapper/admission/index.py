"""The nodes indexed for placement (pure): per pool, the nodes grouped by their free gpus, so a
decision looks only at nodes that can take a replica, not at every node of a large pool.

`NodeIndex` is shared between decisions and kept current by whoever owns the rooms (a
worker's snapshot moves only the nodes whose room changed); `PassRooms` is one decision's
view of it: the rooms the pass counted admissions on are copied on first use, so the index
itself is never changed by a pass.

The order replicas are counted in (see `PassRooms.place`): nodes in buckets of free gpus,
for a job asking e > 0 gpus per replica those it fills most evenly first ((free mod e), then
fewest free gpus), for a job asking none the fewest free gpus first (gpu nodes stay whole);
within a bucket, in the order the nodes were listed. Large free nodes so stay whole for
large jobs, as best fit does, without sorting a pool's nodes per decision.
"""

from collections import Counter
from collections.abc import Iterable
from itertools import chain

from wrapper.admission.placement import Node, Room
from wrapper.admission.resources import Res

ALL = ""  # the pool id when there is one pool: every node


class NodeIndex:
    """Per pool, its nodes by free gpus; and each pool's node sizes (for ever-fits)."""

    def __init__(self, nodes: dict[str, Node], rooms: dict[str, Room],
                 pools: dict[str, Iterable[str]]):  # fmt: skip
        """rooms: name -> free room, the owner's (shared, not copied: the owner calls `moved`
        after changing one); pools: pool id -> its node names (empty: every node)."""
        self.rooms = rooms
        self.nodes = nodes
        self.pools: dict[str, tuple[str, ...]] = {
            pid: tuple(n for n in names if n in rooms) or tuple(rooms)
            for pid, names in (pools or {ALL: ()}).items()
        }  # fmt: skip
        self.member: dict[str, list[str]] = {}  # node -> the pools it is in
        self.buckets: dict[str, dict[int, dict[str, None]]] = {}
        self.sizes: dict[str, Counter] = {}  # pool -> {a node's capacity room: how many}
        for pid, names in self.pools.items():
            buckets: dict[int, dict[str, None]] = {}
            for name in names:
                self.member.setdefault(name, []).append(pid)
                buckets.setdefault(rooms[name][2], {})[name] = None
            self.buckets[pid] = buckets
            self.sizes[pid] = Counter(tuple(nodes[n].capacity()) for n in names)

    def names(self, pool: str) -> tuple[str, ...]:
        return self.pools.get(pool) or self.pools.get(ALL) or ()

    def moved(self, name: str, old_gpu: int) -> None:
        """Node `name`'s room changed (its free gpus were `old_gpu`)."""
        gpu = self.rooms[name][2]
        if gpu == old_gpu:
            return
        for pid in self.member.get(name, ()):
            buckets = self.buckets[pid]
            buckets[old_gpu].pop(name, None)
            buckets.setdefault(gpu, {})[name] = None

    def bucket_order(self, pool: str, gpu: int) -> list[int]:
        """The free-gpu buckets a replica asking `gpu` gpus is counted in, in order."""
        keys = [g for g, b in self.buckets[pool].items() if b and (gpu == 0 or g >= gpu)]
        if gpu > 0:
            keys.sort(key=lambda g: (g % gpu, g))
        else:
            keys.sort()
        return keys


class PassRooms:
    """One pass's rooms: the index's, with the nodes this pass counted replicas on copied."""

    def __init__(self, index: NodeIndex):
        self.index = index
        self.taken: dict[str, Room] = {}
        self.blocked: dict[str, Room] = {}  # held nodes' own room, set aside for backfill

    def __getitem__(self, name: str) -> Room:
        room = self.taken.get(name)
        return room if room is not None else self.index.rooms[name]

    def take(self, each: Res, placement: Iterable[str]) -> None:
        """Count a placement against the nodes' room (and a held node's own, for backfill)."""
        for name in placement:
            _count(self._copy(name), each, -1)
            held = self.blocked.get(name)
            if held is not None:
                _count(held, each, -1)

    def give(self, each: Res, placement: Iterable[str]) -> None:
        """Give back what `take` counted (a nomination's room, to its own job)."""
        for name in placement:
            _count(self._copy(name), each, 1)
            held = self.blocked.get(name)
            if held is not None:
                _count(held, each, 1)

    def hold(self, names: Iterable[str]) -> None:
        """Set these nodes aside for an overdue gang: nothing more is counted on them in this
        pass except by `place_backfill` (jobs that end before they drain). Not even what the
        gang leaves: the scheduler does not know what admission set aside, and could put a
        pod of a job counted beside the gang into the gang's room."""
        for name in names:
            if name not in self.blocked:
                self.blocked[name] = list(self[name])
            self.taken[name] = [0, 0, 0, 0]

    def _copy(self, name: str) -> Room:
        room = self.taken.get(name)
        if room is None:
            room = self.taken[name] = list(self.index.rooms[name])
        return room

    def place_backfill(self, each: Res, replicas: int, pool: str) -> list[str] | None:
        """`place`, the held nodes' own room included (a job that ends before they drain)."""
        held = {name: self.taken[name] for name in self.blocked}
        self.taken.update(self.blocked)
        try:
            return self.place(each, replicas, pool)
        finally:
            self.taken.update(held)

    def place(self, each: Res, replicas: int, pool: str) -> list[str] | None:
        """The node each replica is counted on, or None when they do not all fit at once on
        the pool's nodes. Does not change the rooms."""
        index = self.index
        pid = pool if pool in index.buckets else ALL
        buckets = index.buckets.get(pid)
        if buckets is None:
            return None
        cpu, memory, gpu = each.cpu, each.memory, each.gpu
        order = index.bucket_order(pid, gpu)
        taken = self.taken
        if gpu > 0:
            # At most this many fit, by gpus alone (the pass's copies only have less room).
            if sum(len(buckets[g]) * (g // gpu) for g in order) < replicas:
                return None
        # The nodes this pass counted on, by their free gpus now (their index entry is stale).
        mine: dict[int, list[str]] = {}
        for name, room in taken.items():
            if pid in index.member.get(name, ()):
                mine.setdefault(room[2], []).append(name)
        out: list[str] = []
        rooms = index.rooms
        keys = set(order) | {g for g in mine if gpu == 0 or g >= gpu}
        for g in sorted(keys, key=_order_key(gpu)):
            for name, room in chain(
                ((x, taken[x]) for x in mine.get(g, ())),
                ((x, rooms[x]) for x in buckets.get(g, ()) if x not in taken),
            ):
                n = room[3]
                if gpu > 0:
                    n = min(n, room[2] // gpu)
                if n > 0 and cpu > 0:
                    n = min(n, room[0] // cpu)
                if n > 0 and memory > 0:
                    n = min(n, room[1] // memory)
                if n > 0:
                    out += [name] * min(n, replicas - len(out))
                    if len(out) == replicas:
                        return out
        return None


def _count(room: Room, each: Res, sign: int) -> None:
    room[0] += sign * each.cpu
    room[1] += sign * each.memory
    room[2] += sign * each.gpu
    room[3] += sign


def _order_key(gpu: int):
    return (lambda g: (g % gpu, g)) if gpu > 0 else (lambda g: g)
