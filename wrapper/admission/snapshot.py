"""What the admission policy decides on: a snapshot of the teams, their queues and the
cluster (in sums, and per node when the nodes' free room is known), as plain data.
`wrapper.admission.store` loads it from Redis; tests and benchmarks build it directly."""

import math
from dataclasses import dataclass, field

from wrapper.admission.index import NodeIndex
from wrapper.admission.placement import Node
from wrapper.admission.pools import Pool
from wrapper.admission.resources import Res, replica_request


@dataclass(frozen=True)
class Candidate:
    """A queued job as admission sees it: what it asks for and its place in line."""

    id: int
    demand: Res  # the whole job: `replicas` x `each`
    priority: int
    submitted: float  # epoch seconds
    replicas: int = 1  # pods (1 Master + its Workers), each asking for `each`
    each: Res | None = None  # one replica's request (None: `demand`, one replica)
    max_runtime: float = math.inf  # seconds it may run (the operator ends it then)

    def replica(self) -> Res:
        return self.demand if self.each is None else self.each

    @classmethod
    def of_spec(cls, job_id: int, spec: dict, submitted: float) -> "Candidate":
        """A job as admission sees it, from its validated spec: 1 Master + `workers` Workers,
        each asking for `resources`."""
        each, replicas = replica_request(spec), 1 + spec["workers"]
        return cls(job_id, each.scale(replicas), spec["priority"], submitted, replicas, each,
                   float(spec.get("max_runtime_seconds") or math.inf))  # fmt: skip


@dataclass(frozen=True)
class TeamState:
    name: str
    weight: float
    quota: Res
    max_jobs: int
    borrowing_limit: Res | None  # None: the team may not borrow
    usage: Res  # reserved by its dispatched, unfinished jobs
    running: int
    # Priority desc, then submission (the team queue's order; with a size credit, its
    # `wrapper.admission.ordering`).
    queue: tuple[Candidate, ...]
    pool: str = ""  # the nodes its pods may use (see ClusterState.pools)
    last_admitted: float = 0.0  # epoch of its latest admission (0: never); breaks share ties


@dataclass(frozen=True)
class Nomination:
    """Room held for a job that preempted others (wrapper.admission.preemption): its victims'
    pods are going, and what they free is the preemptor's, in sums and on the nodes it was
    planned on, until it is admitted (or the nomination lapses)."""

    team: str
    demand: Res
    each: Res
    nodes: tuple[str, ...] = ()  # one per replica (): counted in sums


@dataclass(frozen=True)
class ClusterState:
    teams: tuple[TeamState, ...]
    capacity: Res | None  # all schedulable capacity (allocatable, capped); None: not known yet
    now: float
    head_wait_seconds: float = 60.0
    admission_rate: float | None = None  # admissions per second recently (for ETAs)
    # Pool id -> pool; empty: one pool, `capacity`, shared by every team.
    pools: dict[str, Pool] = field(default_factory=dict)
    # Node name -> its free room; None: not known (admission then reasons in sums only).
    nodes: dict[str, Node] | None = None
    # Job id -> epoch before which it may not be admitted (re-queued after its pods were not
    # ready: wrapper.admission.readiness); only entries not yet due.
    backoff: dict[int, float] = field(default_factory=dict)
    # `nodes` indexed for placement, kept by the snapshot's owner between snapshots (None:
    # each decision indexes `nodes` itself, as tests and one-off snapshots do).
    index: NodeIndex | None = None
    # Job id -> room held for it (queued preemptors only).
    nominated: dict[int, Nomination] = field(default_factory=dict)
    # Seconds of queue place a job gains per gpu it asks (wrapper.admission.ordering); the
    # teams' queues above are in that order already.
    size_credit_seconds: float = 0.0
