"""Each node's free room as admission counts it, from the node and pod cache (pure): its
allocatable, less what the pods bound to it request (every pod, not only trainq's), less the
replicas admission counted on it whose pods are not bound yet (a job's placement, as ADMIT
recorded it, minus where its pods are already bound; those are in the node's requests).

`NodeLedger` keeps that picture incrementally: a worker applies only what changed since its
last snapshot (a node, a job's placement, where a job's pods are bound) and only the nodes
those touch are worked out again. A cache written before it held pod usage has no `used`:
then the nodes' room is not known and admission reasons in sums."""

import json
import math
from collections import Counter

from wrapper.admission.placement import Node, Room
from wrapper.admission.resources import Res


def _unbound(where: dict, on: dict[str, int]) -> Counter:
    """Per node, the replicas of one job counted there whose pods are not bound yet. A pod the
    scheduler put elsewhere than counted is in that node's requests already, so it frees the
    place counted for it (the first counted places go first)."""
    out: Counter = Counter()
    remaining = len(where["nodes"]) - sum(on.values())
    for name, counted in Counter(where["nodes"]).items():
        n = min(counted - on.get(name, 0), remaining)
        if n > 0:
            out[name] = n
            remaining -= n
    return out


class NodeLedger:
    """The nodes' rooms, kept up to date from changes: `nodes` (name -> Node) and `rooms`
    (name -> free room) are replaced entry by entry, never rebuilt."""

    def __init__(self) -> None:
        self.compact: dict[str, dict] = {}  # the cache's node entries
        self.placements: dict[str, dict] = {}  # job id -> {"each": [...], "nodes": [...]}
        self.bound: dict[str, dict[str, int]] = {}  # job id -> {node: its pods bound there}
        self.nodes: dict[str, Node] = {}
        self.rooms: dict[str, Room] = {}
        # job id -> (a replica's [cpu, memory, gpu], node -> its replicas counted there, unbound)
        self._counted: dict[str, tuple[list[int], Counter]] = {}
        self._reserved: dict[str, list[int]] = {}  # node -> [cpu, memory, gpu, pods] of those
        # node -> {job id: its deadline (None: unknown)} for trainq's jobs counted or bound
        # there, and node -> {job id: its pods bound there}: when the node drains (Node.drain_at)
        self._deadlines: dict[str, dict[str, float | None]] = {}
        self._ours: dict[str, dict[str, int]] = {}
        self._no_usage = 0  # nodes cached without `used` (an older cache)

    @property
    def known(self) -> bool:
        return self._no_usage == 0

    def set_node(self, name: str, entry: dict | None) -> None:
        old = self.compact.pop(name, None)
        if old is not None and "used" not in old:
            self._no_usage -= 1
        if entry is None:
            self.nodes.pop(name, None)
            self.rooms.pop(name, None)
            return
        self.compact[name] = entry
        if "used" not in entry:
            self._no_usage += 1
        self._refresh(name)

    def set_job(self, job_id: str, placement: dict | None = None,
                bound: dict[str, int] | None = None, *, which: str) -> set[str]:  # fmt: skip
        """A job's placement (which="placement") or bound pods (which="bound") changed to the
        given value (None: gone). Returns the nodes whose room moved."""
        before = self._nodes_of(job_id)
        if which == "placement":
            _put(self.placements, job_id, placement)
        else:
            _put(self.bound, job_id, bound)
        after = self._nodes_of(job_id)
        self._track(job_id, before, after)
        old_each, old = self._counted.pop(job_id, (None, Counter()))
        where = self.placements.get(job_id)
        new = _unbound(where, self.bound.get(job_id, {})) if where else Counter()
        if new:
            self._counted[job_id] = (where["each"], new)
        touched = set()
        for name in old.keys() | new.keys():
            self._count(name, old_each, -old.get(name, 0))
            self._count(name, where["each"] if where else None, new.get(name, 0))
            touched.add(name)
        for name in touched | before | after:
            if name in self.compact:
                self._refresh(name)
        return touched | before | after

    def _nodes_of(self, job_id: str) -> set[str]:
        where = self.placements.get(job_id)
        return set(where["nodes"] if where else ()) | set(self.bound.get(job_id) or ())

    def _track(self, job_id: str, before: set[str], after: set[str]) -> None:
        """Keep each node's trainq jobs (their deadline, their bound pods) for drain_at."""
        where = self.placements.get(job_id)
        deadline = where.get("until") if where else None
        on = self.bound.get(job_id) or {}
        for name in before - after:
            self._deadlines.get(name, {}).pop(job_id, None)
            self._ours.get(name, {}).pop(job_id, None)
        for name in after:
            self._deadlines.setdefault(name, {})[job_id] = deadline
            if on.get(name):
                self._ours.setdefault(name, {})[job_id] = on[name]
            else:
                self._ours.get(name, {}).pop(job_id, None)

    def drain_at(self, name: str, pods: int) -> float:
        """When every pod on the node will have ended (see Node.drain_at); `pods`: bound there."""
        if pods > sum(self._ours.get(name, {}).values()):
            return math.inf  # a pod not of a reserved trainq job: its end is unknown
        deadlines = self._deadlines.get(name)
        if not deadlines:
            return -math.inf
        if None in deadlines.values():
            return math.inf
        return max(deadlines.values())

    def _count(self, name: str, each: list[int] | None, n: int) -> None:
        if not n or each is None:
            return
        r = self._reserved.setdefault(name, [0, 0, 0, 0])
        r[0] += each[0] * n
        r[1] += each[1] * n
        r[2] += each[2] * n
        r[3] += n
        if r == [0, 0, 0, 0]:
            del self._reserved[name]

    def _refresh(self, name: str) -> None:
        n = self.compact[name]
        u = n.get("used") or {"cpu": 0, "memory": 0, "gpu": 0, "pods": 0}
        r = self._reserved.get(name, (0, 0, 0, 0))
        room = [n["cpu"] - u["cpu"] - r[0], n["memory"] - u["memory"] - r[1],
                n["gpu"] - u["gpu"] - r[2], n.get("pods", 0) - u["pods"] - r[3]]  # fmt: skip
        self.rooms[name] = room
        drain = self.drain_at(name, u["pods"])
        self.nodes[name] = Node(name, Res(n["cpu"], n["memory"], n["gpu"]), n.get("pods", 0),
                                Res(*room[:3]), room[3], drain)  # fmt: skip


def _put(table: dict, key: str, value) -> None:
    if value is None:
        table.pop(key, None)
    else:
        table[key] = value


def ledger_of(nodes: list[dict], bound: dict[str, dict[str, int]],
              placements: dict[str, dict]) -> NodeLedger:  # fmt: skip
    """A ledger built from a whole picture."""
    ledger = NodeLedger()
    for n in nodes:
        ledger.set_node(n["name"], n)
    for job_id, on in bound.items():
        ledger.set_job(job_id, bound=on, which="bound")
    for job_id, where in placements.items():
        ledger.set_job(job_id, where, which="placement")
    return ledger


def node_rooms(nodes: list[dict] | None, bound: dict[str, dict[str, int]],
               placements: dict[str, dict]) -> dict[str, Node] | None:  # fmt: skip
    """nodes: the cached node list; bound: job id -> {node: its pods bound there};
    placements: job id -> {"each": [cpu, memory, gpu], "nodes": [one per replica]}."""
    if nodes is None:
        return None
    ledger = ledger_of(nodes, bound, placements)
    return ledger.nodes if ledger.known else None


def placement_json(adm_demand: Res, nodes: tuple[str, ...], until: float | None = None) -> str:
    """What ADMIT records for an admission counted on `nodes` (one per identical replica);
    `until`: the job's deadline (epoch), when it has one."""
    n = len(nodes)
    each = [adm_demand.cpu // n, adm_demand.memory // n, adm_demand.gpu // n]
    out: dict = {"each": each, "nodes": list(nodes)}
    if until is not None and math.isfinite(until):
        out["until"] = round(until, 3)
    return json.dumps(out, separators=(",", ":"))


def largest(nodes: dict[str, Node], names) -> Res | None:
    """Per resource, the most allocatable any of `names` has (None: none of them is known)."""
    known = [nodes[n].allocatable for n in names if n in nodes]
    if not known:
        return None
    return Res(max(a.cpu for a in known), max(a.memory for a in known), max(a.gpu for a in known))


def shape_of(node: dict) -> tuple:
    """What decides the pools a node belongs to (labels, taints, allocatable), without the
    usage that moves with every pod, so the pools are worked out again only when it changes."""
    labels = json.dumps(node.get("labels"), sort_keys=True)
    return (node["cpu"], node["memory"], node["gpu"], node.get("pods"), labels,
            json.dumps(node.get("taints")))  # fmt: skip
