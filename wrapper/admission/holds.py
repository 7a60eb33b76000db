"""What an overdue head that does not fit now holds (docs/admission.md, "Order within a team,
and the head-of-line bound"). With the nodes' free room known: the whole nodes due to drain
first, and its team's later jobs go on, counted with it (EASY backfill, as Slurm's).
Otherwise, or where the pool's sum may refuse what its nodes allow: its demand in sum, and its
team's later jobs wait behind it. `sim` is one pass's working state (`fit.PassState`)."""

import math

from wrapper.admission.index import ALL
from wrapper.admission.placement import gang_hold
from wrapper.admission.snapshot import Candidate, TeamState


def hold_head(sim, team: TeamState, job: Candidate, short_in_sum: bool) -> bool:
    """Hold what `job` (its team's overdue head; short_in_sum: it does not fit the pool's sum)
    waits for. Returns whether its team's later jobs must wait behind it: not when it holds
    nodes and the pool's sum cannot refuse it, for then they are counted with it (in
    the team's quota and job count, outside its room) and cannot delay it."""
    name, pool = team.name, sim.pool[team.name]
    blocks = head_blocks(sim, pool)
    if not blocks and sim.holders[pool]:
        return True  # one gang holds node room per pass (EASY): the next waits behind it
    if sim.rooms is not None:
        _hold_nodes(sim, pool, job, name)
    if blocks:
        if short_in_sum:
            sim.hold(pool, job.demand, job.id, name)
        return True
    sim.count_for_team(team, job.demand, job)  # (as if admitted, for its team only)
    return False


def head_blocks(sim, pool: str) -> bool:
    """Whether an overdue head of the pool that does not fit ends its team's turns."""
    return sim.rooms is None or sum_binds(sim, pool)


def sum_binds(sim, pool: str) -> bool:
    """Whether the pool's sum may refuse what its nodes' room allows (capacity capped below
    their allocatable, or pools sharing nodes): an overdue head then holds its demand in sum
    too, or later jobs could take the sum it waits for."""
    found = sim.binds.get(pool)
    if found is None:
        sizes = sim.index.sizes.get(pool) or sim.index.sizes.get(ALL, {})
        total = [sum(size[i] * count for size, count in sizes.items()) for i in range(3)]
        cap = sim.pools[pool].capacity
        capped = any(c < t for c, t in zip((cap.cpu, cap.memory, cap.gpu), total, strict=True))
        found = sim.binds[pool] = capped or len(sim.pools[pool].overlaps) > 1
    return found


def _hold_nodes(sim, pool: str, job: Candidate, team: str) -> None:
    """Whole nodes (placement.gang_hold): later jobs of the pass are counted on the others;
    the held nodes drain as their jobs end, so the head starts when they are free."""
    nodes, each = sim.index.nodes, job.replica()
    placement = gang_hold(nodes, sim.node_names(pool), sim.rooms, each, job.replicas)
    # The gang starts at the latest when every job on its nodes has reached its deadline:
    # a job bound to end before that may use their room meanwhile (backfill, as Slurm's).
    drain = max((nodes[n].drain_at for n in placement), default=math.inf)
    sim.backfill_until = min(sim.backfill_until, drain)
    sim.rooms.hold(placement)
    sim.holders[pool].append((job.id, team))
    sim.avail_changed()
