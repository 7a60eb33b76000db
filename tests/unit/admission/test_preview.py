"""A dry run's answer, pure (wrapper.admission.preview): the job is queued where a submission
would put it, the whole plan is explained, and its entry is read back; the snapshot itself is
left as it was."""

import pytest

from wrapper import admission as A
from wrapper.admission.placement import Node
from wrapper.admission.policy import ADMISSIBLE_IF_SUBMITTED, enqueue
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GI = 2**30
ALLOC = Res(32_000, 256 * GI, 8)  # one kwok node of the local stack
NOW = 10_000.0
QUOTA, NOTHING = Res(256_000, 2048 * GI, 64), Res()


def node(name: str, free_gpus: int) -> Node:
    return Node(name, ALLOC, 110, ALLOC - Res(0, 0, 8 - free_gpus), 110)


def gang(job_id: int, replicas: int, gpus: int, priority: int = 0,
         submitted: float = NOW - 100) -> Candidate:  # fmt: skip
    each = Res(1000, 4 * GI, gpus)
    return Candidate(job_id, each.scale(replicas), priority, submitted, replicas, each)


def new(replicas: int, gpus: int, priority: int = 0) -> Candidate:
    """The job a dry run asks about: a new submission, now."""
    return gang(A.PREVIEW_ID, replicas, gpus, priority, submitted=NOW)


def team(name: str, jobs=(), usage=NOTHING, quota=QUOTA) -> TeamState:
    return TeamState(name, 1.0, quota, 100, None, usage, 0, tuple(jobs))


def state(*teams, nodes=None, capacity=None, rate=None) -> ClusterState:
    nodes = None if nodes is None else {n.name: n for n in nodes}
    if capacity is None and nodes is not None:
        capacity = ALLOC.scale(len(nodes))
    return ClusterState(tuple(teams), capacity, NOW, 60.0, rate, {}, nodes)


def test_admissible_now_names_the_node_of_each_replica():
    """Job 1 (8 gpus) takes n2 whole first; the new job's two 3-gpu replicas then fit n1 and
    n3, the fullest nodes (best fit)."""
    alpha = team("alpha", [gang(1, 1, 8)])
    p = A.preview(state(alpha, nodes=[node("n1", 3), node("n2", 8), node("n3", 3)]), "alpha",
                  new(2, 3))  # fmt: skip
    assert p.admissible_now and p.reason is None and p.message == ADMISSIBLE_IF_SUBMITTED
    assert p.placement == ("n1", "n3")
    assert (p.position, p.global_position) == (1, 1)  # behind job 1, admitted before it
    assert p.job.replicas == 2 and p.job.demand.gpu == 6


def test_waits_with_the_reason_and_its_place_behind_higher_priority_jobs():
    queued = [gang(1, 1, 1, priority=5, submitted=NOW - 10), gang(2, 1, 1, submitted=NOW - 9),
              gang(3, 1, 1, submitted=NOW - 8)]  # fmt: skip
    full = team("alpha", queued, usage=Res(0, 0, 8), quota=Res(64_000, 512 * GI, 8))
    snapshot = state(full, team("beta"), capacity=ALLOC.scale(4), rate=0.5)
    for priority, place in ((0, 3), (5, 1), (9, 0)):
        p = A.preview(snapshot, "alpha", new(1, 1, priority))
        assert not p.admissible_now and p.placement == ()
        assert p.reason == A.WAITING_FOR_QUOTA and "team alpha uses 8 of 8" in p.message
        assert p.position == place and p.global_position == place
        assert p.eta_seconds == round((place + 1) / 0.5, 1)
    assert [j.id for j in snapshot.teams[0].queue] == [1, 2, 3]  # the snapshot is unchanged


def test_waits_behind_a_head_past_the_head_of_line_bound():
    """Job 1 (16 gpus) has waited past the bound and holds: the small new job, which would
    fit, is not admitted past it."""
    alpha = team("alpha", [gang(1, 2, 8, submitted=NOW - 100)], usage=Res(0, 0, 4))
    p = A.preview(state(alpha, capacity=ALLOC.scale(2)), "alpha", new(1, 1))
    assert p.reason == A.WAITING_FOR_HIGHER_PRIORITY and "job 1 ahead" in p.message
    assert p.position == 1


def test_placement_is_what_stops_it_when_nodes_are_fragmented():
    """The issue's scenario as a dry run: 12 gpus fit in sum (3 + 3 + 8 free), not on nodes."""
    alpha = team("alpha", usage=Res(2000, 8 * GI, 10))
    nodes = [node("n1", 3), node("n2", 3), node("n3", 8)]
    p = A.preview(state(alpha, team("beta"), nodes=nodes), "beta", new(2, 6))
    assert p.reason == A.WAITING_FOR_PLACEMENT and p.placement == ()
    assert (p.position, p.eta_seconds) == (0, None)  # no admission rate known


def test_in_sums_only_and_with_capacity_unknown():
    sums = A.preview(state(team("alpha"), capacity=ALLOC), "alpha", new(1, 2))
    assert sums.admissible_now and sums.placement == ()  # the nodes' free room is not known
    unknown = A.preview(state(team("alpha", [gang(1, 1, 1)])), "alpha", new(1, 2))
    assert unknown.reason == A.WAITING_FOR_CAPACITY and unknown.position == 1


def test_enqueue_puts_it_where_submit_does_and_refuses_an_unknown_team():
    queued = [gang(1, 1, 1, priority=5), gang(2, 1, 1, priority=5), gang(3, 1, 1, priority=-1)]
    snapshot = state(team("alpha", queued), capacity=ALLOC)
    ids = [j.id for j in enqueue(snapshot, "alpha", new(1, 1, priority=5)).teams[0].queue]
    assert ids == [1, 2, A.PREVIEW_ID, 3]  # FIFO among equals, ahead of lower priorities
    with pytest.raises(KeyError):
        A.preview(snapshot, "gamma", new(1, 1))


def test_a_candidate_from_a_spec_counts_every_replica():
    spec = {"workers": 2, "priority": 3, "resources": {"cpu": "2", "memory": "4Gi", "gpu": 1}}
    c = Candidate.of_spec(7, spec, NOW)
    assert (c.id, c.replicas, c.priority, c.submitted) == (7, 3, 3, NOW)
    assert c.each == Res(2000, 4 * GI, 1) and c.demand == Res(6000, 12 * GI, 3)
