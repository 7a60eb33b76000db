"""Node pools: which nodes a team's pods may use (node selector, tolerated taints), and the
capacity each group of such nodes offers. Teams whose pods may use the same nodes share a pool;
the admission policy (wrapper.admission) checks a job against its team's pool."""

from dataclasses import dataclass

from wrapper.admission.resources import Res


@dataclass(frozen=True)
class Pool:
    """The nodes some teams' pods may use (node selector, tolerated taints)."""

    capacity: Res  # their allocatable, capped
    overlaps: frozenset[str]  # pools sharing a node with this one, itself included
    nodes: tuple[str, ...] = ()  # their names


def effective_capacity(allocatable: Res | None, cap: Res | None) -> Res | None:
    if allocatable is None:
        return None
    return allocatable if cap is None else allocatable.minimum(cap)


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
        # One string object per pool: ids of large pools are long, and equal objects compare
        # at once (a decision compares every team's pool id).
        pool_id = next((p for p in members if p == pool_id), pool_id)
        team_pool[team] = pool_id
        members[pool_id] = set(names)
    pools = {
        pid: Pool(total(names), frozenset(o for o, other in members.items() if other & names
                                          or o == pid), tuple(sorted(names)))
        for pid, names in members.items()
    }  # fmt: skip
    everything = set().union(*members.values()) if members else set()
    return team_pool, pools, total(everything)
