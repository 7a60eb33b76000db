"""Which queued job a worker admits next: the one interface between workers and the admission
policy. Pure: a snapshot in, an ordered list of admissions out.

`pick_next` is the policy in force (`wrapper.admission.plan`: whole-job fit against quota and
free capacity, weighted dominant-resource fair share across teams, priority then submission
within a team with a bounded head-of-line wait). The worker tries the admissions in order; the
first that the atomic Redis check still accepts is dispatched. `round_robin` is the policy
before admission existed, kept as a baseline for benchmarks.
"""

from dataclasses import dataclass

from wrapper.admission import Admission, ClusterState, plan

# A worker dispatches one job per decision; a second tells it to wake another worker.
DECISION_LIMIT = 2


def pick_next(state: ClusterState) -> list[Admission]:
    """The admissions to try now, best first (empty: nothing is admissible)."""
    return plan(state, limit=DECISION_LIMIT).admit


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
