"""Why a job waits, in words: the pending messages of a full explanation (`explain`), built
from one pass's working state (`wrapper.admission.fit.PassState`, passed in as `sim`). A team
reads these: its own jobs are named, another team's never (docs/security.md)."""

from wrapper.admission.placement import best_room, fits_on
from wrapper.admission.reasons import (
    EXCEEDS_POOL_CAPACITY,
    WAITING_FOR_CAPACITY,
    WAITING_FOR_FAIR_SHARE,
    WAITING_FOR_PLACEMENT,
    Pending,
)
from wrapper.admission.resources import REPORTED, RESOURCES, Res, fmt, fmt_res
from wrapper.admission.snapshot import Candidate


def shape(job: Candidate) -> str:
    each = job.replica()
    asks = ", ".join(fmt_res(r, each.get(r)) for r in REPORTED if each.get(r))
    return f"{job.replicas} replica{'s' if job.replicas != 1 else ''} of {asks or 'nothing'}"


def too_large(sim, name: str, pool: str, job: Candidate) -> Pending:
    """Why a job can never be placed on its team's nodes as they are."""
    d, cap = job.demand, sim.pools[pool].capacity
    where = "the cluster" if len(sim.pools) == 1 else f"team {name}'s nodes"
    over = [r for r in REPORTED if d.get(r) > 0 and d.get(r) > cap.get(r)]
    if over:
        r = over[0]
        msg = f"needs {fmt_res(r, d.get(r))}; {where} have {fmt(r, cap.get(r))} in all"
    else:
        nodes = sim.state.nodes or {}
        names = [n for n in sim.node_names(pool) if n in nodes]
        fit = sum(fits_on(nodes[n].capacity(), job.replica()) for n in names)
        msg = (f"needs {shape(job)}; {where} could hold {fit} of them even if empty "
               f"({len(names)} node{'s' if len(names) != 1 else ''})")  # fmt: skip
    return Pending(EXCEEDS_POOL_CAPACITY, msg + "; it waits until capacity returns")


def placement_pending(sim, pool: str, job: Candidate, overdue: bool) -> Pending:
    """Why a job that fits in sum waits for its replicas to fit on nodes at once."""
    names = sim.node_names(pool)
    rooms = sim.rooms
    fit = sum(fits_on(rooms[n], job.replica()) for n in names)
    best = best_room(rooms, names)
    msg = f"needs {shape(job)} at once; {fit} fit on the nodes now"
    if best is not None:
        name, room = best
        cpu, memory, gpu = (max(x, 0) for x in room[:3])  # (a held node's room may be < 0)
        msg += (f" (most room: {name} with {gpu} gpu, {fmt('cpu', cpu)} cpu, "
                f"{fmt('memory', memory)} memory free)")  # fmt: skip
    if overdue:
        msg += "; it has waited past the bound and holds the next free capacity"
    return Pending(WAITING_FOR_PLACEMENT, msg)


def capacity_pending(sim, name: str, pool: str, d: Res, avail: tuple[int, int, int],
                      overdue: bool) -> Pending:  # fmt: skip
    """Why a job that does not fit the free capacity waits (see check)."""
    free = sim.free(pool)
    r = next(x for x in REPORTED if d.get(x) and d.get(x) > avail[RESOURCES.index(x)])
    where = "in the cluster" if len(sim.pools) == 1 else f"on team {name}'s nodes"
    waiter = sim.capacity_waiter.get(pool)
    holder = sim.holder_on(pool)
    # A team reads these: its own jobs are named, another team's never (docs/security.md).
    if holder and d.fits_in(free):
        whose = f"job {holder[0]} of this team" if holder[1] == name else "another team's job"
        msg = (
            f"needs {fmt_res(r, d.get(r))}; free capacity is held for {whose} "
            "(waited past the head-of-line bound)"
        )
        reason = WAITING_FOR_CAPACITY
    elif waiter not in (None, name):
        reason = WAITING_FOR_FAIR_SHARE
        msg = (
            f"needs {fmt_res(r, d.get(r))}; another team has a lower "
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
