"""The order of a pass, and when a worker's pass may stop: the heap of team turns (lowest
weighted share first) and `none_can_fit`, the exact early stop of a worker's decision."""

import heapq
from itertools import islice

from wrapper.admission.fit import PassState
from wrapper.admission.holds import head_blocks
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import TeamState


def turns(teams: tuple[TeamState, ...], capacity: Res) -> list[tuple]:
    """The heap of teams with queued work: (share, last admitted, head's submission, name,
    team), lowest first. dominant_share inlined (the same float operations): a worker's decision
    at 1,000 teams cannot afford a call per team. Names are unique, so a team is never compared."""
    cpu, memory, gpu = capacity.cpu, capacity.memory, capacity.gpu
    heap: list[tuple] = []
    add = heap.append
    for t in teams:
        queue = t.queue
        if not queue:
            continue
        u = t.usage
        share = u.cpu / cpu if cpu > 0 else 0.0
        if memory > 0 and (r := u.memory / memory) > share:
            share = r
        if gpu > 0 and (r := u.gpu / gpu) > share:
            share = r
        add((share / t.weight, t.last_admitted, queue[0].submitted, t.name, t))
    heapq.heapify(heap)
    return heap


def none_can_fit(sim: PassState, heap: list[tuple], cursor: dict[str, int],
                 closed: set[str]) -> bool:  # fmt: skip
    """Whether no team left in a worker's pass can admit anything more, so that it may stop:
    each team either may start no more jobs (max_running_jobs), or its next job is its head,
    past the head-of-line bound, not fitting what its pool has left, or none of its jobs left
    fits what its pool has left. Exact: from then on nothing would be admitted, so capacity
    would only shrink (by the holds of such heads; one asking for a negative amount, which
    would give some back, answers no), a job that does not fit now never would, running jobs
    would not grow, and a head past the bound that is not admitted ends its team's turns.
    What did not fit is remembered between questions (sim.misfit_to) for the same reason,
    until an admission or hold of a negative amount gives capacity back."""
    now, bound, pool_of, misfit_to = sim.now, sim.head_wait, sim.pool, sim.misfit_to
    backoff = sim.backoff
    pool = ""
    if len(sim.pools) == 1:  # (one pool, every team's: what it has left, read once)
        pool = next(iter(sim.pools))
        cpu, memory, gpu = sim.avail(pool)
        pool_of = None
    for _, _, submitted, name, team in heap:
        queue, at = team.queue, cursor.get(name, 0)
        if pool_of is not None:
            pool = pool_of[name]
            cpu, memory, gpu = sim.avail(pool)
        # (_exceeds, inlined: this loop may read every queued job)
        if name not in closed and now - submitted >= bound and queue[at].id not in backoff \
                and sim.ever_fits(pool, queue[at]) and head_blocks(sim, pool):  # fmt: skip
            # (submitted: its next job's; one that can never fit, or in backoff, holds nothing:
            # scanned below, where a job in backoff that fits counts as one that may be admitted)
            # A head past the bound that does not fit holds capacity and ends its team's turns
            # (where it holds node room and the sum cannot refuse it, its team goes on: below).
            d = queue[at].demand
            dead = d.cpu >= 0 and d.memory >= 0 and d.gpu >= 0 and bool(
                (d.gpu and d.gpu > gpu) or (d.cpu and d.cpu > cpu)
                or (d.memory and d.memory > memory))  # fmt: skip
        else:  # none of its jobs left may fit; how far none does is kept for the next time
            at = max(at, misfit_to.get(name, 0))
            for job in islice(queue, at, None):
                d = job.demand
                if not ((d.gpu and d.gpu > gpu) or (d.cpu and d.cpu > cpu)
                        or (d.memory and d.memory > memory)):  # fmt: skip
                    break
                at += 1
            misfit_to[name] = at
            dead = at == len(queue)
        if not dead and sim.running.get(name, team.running) + 1 <= team.max_jobs:
            return False
    return True
