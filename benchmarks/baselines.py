"""Dispatch orders trainq's admission policy is measured against (not used by the product):
round robin over the teams with queued work, the policy before admission existed."""

from dataclasses import dataclass


@dataclass(frozen=True)
class RoundRobinTeam:
    name: str
    weight: float
    queued: int  # entries in the team's queue
    running: int  # dispatched, unfinished jobs


@dataclass(frozen=True)
class RoundRobinSnapshot:
    teams: tuple[RoundRobinTeam, ...]  # in configuration order
    last_served: str | None  # the team the previous claim (by any worker) came from


def round_robin(snapshot: RoundRobinSnapshot) -> list[str]:
    """Every team with queued work, starting after the team served last (global rotation)."""
    names = [t.name for t in snapshot.teams if t.queued > 0]
    order = [t.name for t in snapshot.teams]
    if snapshot.last_served in order:
        start = order.index(snapshot.last_served) + 1
        rotated = order[start:] + order[:start]
        names = [n for n in rotated if n in names]
    return names
