"""Which team's queue a worker takes the next job from: the one interface the admission
policy (weighted fair share, quotas) will replace. Pure: a snapshot in, an order out.

`pick_next` returns the teams to try, in order; the worker claims from the first of them whose
queue is not empty. A team left out of the list is not eligible right now (e.g. over quota).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class TeamState:
    name: str
    weight: float
    queued: int  # entries in the team's queue
    running: int  # dispatched, unfinished jobs


@dataclass(frozen=True)
class Snapshot:
    teams: tuple[TeamState, ...]  # in configuration order
    last_served: str | None  # the team the previous claim (by any worker) came from


def round_robin(snapshot: Snapshot) -> list[str]:
    """Every team with queued work, starting after the team served last (global rotation)."""
    names = [t.name for t in snapshot.teams if t.queued > 0]
    order = [t.name for t in snapshot.teams]
    if snapshot.last_served in order:
        start = order.index(snapshot.last_served) + 1
        rotated = order[start:] + order[:start]
        names = [n for n in rotated if n in names]
    return names


def pick_next(snapshot: Snapshot) -> list[str]:
    """The policy in force. Round robin until the admission issue lands."""
    return round_robin(snapshot)
