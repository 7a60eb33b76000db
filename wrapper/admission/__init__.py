"""Admission: which queued job starts next, and why every other one waits.

- `policy`: the pure decision (`decide`) and explanation (`explain`) over a snapshot;
  `fit`: one pass's working state and the check of one job; `snapshot`: the plain data they
  read; `resources`: amounts of cpu, memory and gpus; `pools`: which nodes a team may use.
- `store`: the Redis side: loads a snapshot, applies one admission atomically (the ADMIT
  script), caches the cluster's nodes; `views`: the queue views the API serves, cached per
  process.

Callers import the policy's names from this package; the Redis side from `store`.
"""

from wrapper.admission.fit import (
    BORROWING_LIMIT_REACHED,
    PENDING_REASONS,
    WAITING_FOR_CAPACITY,
    WAITING_FOR_FAIR_SHARE,
    WAITING_FOR_HIGHER_PRIORITY,
    WAITING_FOR_QUOTA,
    Admission,
    Pending,
    dominant_share,
)
from wrapper.admission.policy import Plan, decide, explain, never_fits
from wrapper.admission.pools import Pool, pools_for
from wrapper.admission.resources import RESOURCES, UNLIMITED, Res, demand, fmt
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

__all__ = [
    "BORROWING_LIMIT_REACHED",
    "PENDING_REASONS",
    "RESOURCES",
    "UNLIMITED",
    "WAITING_FOR_CAPACITY",
    "WAITING_FOR_FAIR_SHARE",
    "WAITING_FOR_HIGHER_PRIORITY",
    "WAITING_FOR_QUOTA",
    "Admission",
    "Candidate",
    "ClusterState",
    "Pending",
    "Plan",
    "Pool",
    "Res",
    "TeamState",
    "decide",
    "demand",
    "dominant_share",
    "explain",
    "fmt",
    "never_fits",
    "pools_for",
]  # fmt: skip
