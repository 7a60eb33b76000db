"""Each node's free room as admission counts it, from the node and pod cache (pure): its
allocatable, less what the pods bound to it request (every pod, not only trainq's), less the
replicas admission counted on it whose pods are not bound yet (a job's placement, as ADMIT
recorded it, minus where its pods are already bound; those are in the node's requests).

A cache written before it held pod usage has no `used`: then the nodes' room is not known and
admission reasons in sums."""

import json
from collections import Counter

from wrapper.admission.placement import Node
from wrapper.admission.resources import Res


def node_rooms(nodes: list[dict] | None, bound: dict[str, dict[str, int]],
               placements: dict[str, dict]) -> dict[str, Node] | None:  # fmt: skip
    """nodes: the cached node list; bound: job id -> {node: its pods bound there};
    placements: job id -> {"each": [cpu, memory, gpu], "nodes": [one per replica]}."""
    if nodes is None or any("used" not in n for n in nodes):
        return None
    room = {}
    for n in nodes:
        u = n["used"]
        room[n["name"]] = [n["cpu"] - u["cpu"], n["memory"] - u["memory"], n["gpu"] - u["gpu"],
                           n.get("pods", 0) - u["pods"]]  # fmt: skip
    for job_id, where in placements.items():
        cpu, memory, gpu = where["each"]
        on = bound.get(job_id, {})
        # Replicas not bound anywhere yet; a pod the scheduler put elsewhere than counted is
        # in that node's requests already, so it frees the place counted for it.
        remaining = len(where["nodes"]) - sum(on.values())
        for name, counted in Counter(where["nodes"]).items():
            unbound = min(counted - on.get(name, 0), remaining)
            r = room.get(name)
            if unbound > 0 and r is not None:
                r[0], r[1], r[2] = (
                    r[0] - cpu * unbound,
                    r[1] - memory * unbound,
                    r[2] - gpu * unbound,
                )
                r[3] -= unbound
                remaining -= unbound
    return {
        n["name"]: Node(n["name"], Res(n["cpu"], n["memory"], n["gpu"]), n.get("pods", 0),
                        Res(*room[n["name"]][:3]), room[n["name"]][3])
        for n in nodes
    }  # fmt: skip


def decode_placements(raw: dict[bytes, bytes]) -> dict[str, dict]:
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def placement_json(adm_demand: Res, nodes: tuple[str, ...]) -> str:
    """What ADMIT records for an admission counted on `nodes` (one per identical replica)."""
    n = len(nodes)
    each = [adm_demand.cpu // n, adm_demand.memory // n, adm_demand.gpu // n]
    return json.dumps({"each": each, "nodes": list(nodes)}, separators=(",", ":"))


def largest(nodes: dict[str, Node], names) -> Res | None:
    """Per resource, the most allocatable any of `names` has (None: none of them is known)."""
    known = [nodes[n].allocatable for n in names if n in nodes]
    if not known:
        return None
    return Res(max(a.cpu for a in known), max(a.memory for a in known), max(a.gpu for a in known))


def pools_key(nodes: list[dict] | None) -> tuple | None:
    """What decides the pools (names, labels, taints, allocatable), without the usage that
    moves with every pod, so the pools are worked out again only when that changes."""
    if nodes is None:
        return None
    return tuple((n["name"], n["cpu"], n["memory"], n["gpu"], n.get("pods"),
                  json.dumps(n.get("labels"), sort_keys=True), json.dumps(n.get("taints")))
                 for n in nodes)  # fmt: skip
