"""Admission: which queued job starts next, and why every other one waits.

- `policy`: the pure decision (`decide`) and explanation (`explain`) over a snapshot, and a
  dry run's answer (`preview`: where a job not yet submitted would land);
  `fit`: one pass's working state and the check of one job; `waits`: why a job waits, in
  words; `reasons`: what it answers
  (admitted, or why it waits); `turns`: the order of turns and a worker's early stop;
  `placement`: whether a job's replicas fit on nodes at once, and on which; `snapshot`: the
  plain data they read; `resources`: amounts of cpu, memory and gpus; `pools`: which nodes a
  team may use.
- `store`: the Redis side: loads a snapshot, applies one admission atomically (the ADMIT
  script), caches the cluster's nodes; `rooms`: each node's free room from that cache (pure);
  `views`: the queue views the API serves, cached per process.

Callers import the policy's names from this package; the Redis side from `store`.
"""

from wrapper.admission.fit import dominant_share
from wrapper.admission.placement import Node
from wrapper.admission.policy import PREVIEW_ID, Plan, Preview, decide, explain, never_fits, preview
from wrapper.admission.pools import Pool, pools_for
from wrapper.admission.reasons import (
    BORROWING_LIMIT_REACHED,
    EXCEEDS_POOL_CAPACITY,
    PENDING_REASONS,
    WAITING_FOR_BACKOFF,
    WAITING_FOR_CAPACITY,
    WAITING_FOR_FAIR_SHARE,
    WAITING_FOR_HIGHER_PRIORITY,
    WAITING_FOR_PLACEMENT,
    WAITING_FOR_QUOTA,
    WAITING_FOR_TEAM_QUEUE,
    Admission,
    Pending,
    team_queue_message,
)
from wrapper.admission.resources import RESOURCES, UNLIMITED, Res, demand, fmt
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

__all__ = [
    "BORROWING_LIMIT_REACHED", "EXCEEDS_POOL_CAPACITY", "PENDING_REASONS", "PREVIEW_ID",
    "RESOURCES", "UNLIMITED", "WAITING_FOR_BACKOFF", "WAITING_FOR_CAPACITY",
    "WAITING_FOR_FAIR_SHARE", "WAITING_FOR_HIGHER_PRIORITY", "WAITING_FOR_PLACEMENT",
    "WAITING_FOR_QUOTA", "WAITING_FOR_TEAM_QUEUE", "Admission",
    "Candidate", "ClusterState", "Node", "Pending", "Plan", "Pool", "Preview", "Res",
    "TeamState", "decide", "demand", "dominant_share", "explain", "fmt", "never_fits",
    "pools_for", "preview", "team_queue_message",
]  # fmt: skip
