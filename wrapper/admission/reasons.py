"""What admission answers about one job: admitted (an `Admission`, with what it reserves and
where its replicas were counted) or waiting (a `Pending`: one of the reasons below, in words)."""

from dataclasses import dataclass

from wrapper.admission.resources import Res

WAITING_FOR_QUOTA = "WaitingForQuota"
WAITING_FOR_CAPACITY = "WaitingForCapacity"
WAITING_FOR_HIGHER_PRIORITY = "WaitingForHigherPriority"
WAITING_FOR_FAIR_SHARE = "WaitingForFairShare"
BORROWING_LIMIT_REACHED = "BorrowingLimitReached"
# Fits the free capacity in sum, but its replicas cannot all be counted on nodes at once.
WAITING_FOR_PLACEMENT = "WaitingForPlacement"
# Can never fit the nodes its team may use as they are now (capacity shrank, or a replica is
# larger than every node): it holds nothing and blocks no one, and proceeds if capacity returns.
EXCEEDS_POOL_CAPACITY = "ExceedsPoolCapacity"
# Re-queued after its pods were not all running in time; not admitted again until its
# backoff is over. Like ExceedsPoolCapacity it holds nothing and blocks no one.
WAITING_FOR_BACKOFF = "WaitingForBackoff"
# Deeper in its team queue than admission looks (admission.lookahead): no plan is made for it
# until the jobs ahead of it move on.
WAITING_FOR_TEAM_QUEUE = "WaitingForTeamQueue"
PENDING_REASONS = (WAITING_FOR_QUOTA, WAITING_FOR_CAPACITY, WAITING_FOR_HIGHER_PRIORITY,
                   WAITING_FOR_FAIR_SHARE, BORROWING_LIMIT_REACHED, WAITING_FOR_PLACEMENT,
                   EXCEEDS_POOL_CAPACITY, WAITING_FOR_BACKOFF,
                   WAITING_FOR_TEAM_QUEUE)  # fmt: skip
_NOTHING = Res()


def team_queue_message(ahead: int, lookahead: int) -> str:
    return (f"{ahead} jobs of its team are ahead of it; admission considers the first "
            f"{lookahead} of each team's queue (admission.lookahead)")  # fmt: skip


@dataclass(frozen=True)
class Admission:
    team: str
    job_id: int
    demand: Res
    team_limit: Res  # the team's usage may reach this (quota, or quota + borrowing)
    max_jobs: int
    borrowing: bool
    capacity: Res = _NOTHING  # what the teams of its (overlapping) pools may hold together
    pool: str = ""
    placement: tuple[str, ...] = ()  # the node each replica is counted on (nodes known)
    max_runtime: float = float("inf")  # its placement's deadline is admission + this


@dataclass(frozen=True)
class Pending:
    reason: str | None  # None: admissible now
    message: str
