"""Order within a team's priority (wrapper.admission.ordering): first come, first served, or
with a size credit (`admission.size_credit_seconds`): large gangs first, within a bound."""

from wrapper import admission as A
from wrapper.admission.ordering import insert_at, queue_entries, size_ordered
from wrapper.admission.placement import Node
from wrapper.admission.policy import enqueue
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import Candidate, ClusterState, TeamState

GI = 2**30
NOW = 10_000.0
NODE = Res(32_000, 256 * GI, 8)


def gang(job_id: int, replicas: int, gpus: int, submitted: float, priority: int = 0) -> Candidate:
    each = Res(1000, GI, gpus)
    return Candidate(job_id, each.scale(replicas), priority, submitted, replicas, each)


def ids(queue) -> list[int]:
    return [j.id for j in queue]


def test_without_a_credit_the_queue_order_is_kept():
    q = (gang(1, 1, 1, NOW - 9), gang(2, 2, 8, NOW - 8), gang(3, 1, 2, NOW - 7))
    assert size_ordered(q, 0.0) is q


def test_a_credit_puts_larger_jobs_first_within_a_priority_only():
    q = (gang(1, 1, 8, NOW - 30, priority=5), gang(2, 1, 1, NOW - 9), gang(3, 2, 8, NOW - 8),
         gang(4, 1, 4, NOW - 7), gang(5, 4, 2, NOW - 6))  # fmt: skip
    # 16, 8, 4 and 1 gpus asked at priority 0; job 1's higher priority keeps it first
    assert ids(size_ordered(q, 10.0)) == [1, 3, 5, 4, 2]


def test_the_credit_is_bounded_by_the_difference_in_submission():
    """A 1-gpu job submitted 100 s before a 4-gpu one: a credit of 10 s per gpu gives the
    larger one 30 s more, not enough to pass; 40 s per gpu gives it 120 s, enough."""
    q = (gang(1, 1, 1, NOW - 100), gang(2, 1, 4, NOW))
    assert ids(size_ordered(q, 10.0)) == [1, 2]
    assert ids(size_ordered(q, 40.0)) == [2, 1]


def test_jobs_put_back_at_the_front_stay_in_front():
    q = (gang(7, 1, 1, NOW - 5), gang(1, 1, 1, NOW - 50), gang(2, 2, 8, NOW - 40))
    assert ids(size_ordered(q, 10.0, front=1)) == [7, 2, 1]
    assert ids(size_ordered(q, 10.0)) == [2, 1, 7]


def test_queue_entries_tell_the_front_from_the_scores():
    read = [[(b"7", -1.0), (b"1", 1000.0 * 2**40 + 1), (b"2", 1000.0 * 2**40 + 2)], []]
    assert queue_entries(read, scored=True) == ([[7, 1, 2], []], [{7}, set()])
    assert queue_entries([[b"3", b"4"]], scored=False) == ([[3, 4]], [set()])


def test_insert_at_follows_the_same_order():
    q = size_ordered((gang(1, 1, 1, NOW - 50), gang(2, 2, 8, NOW - 40), gang(3, 1, 2, NOW - 30)),
                     10.0)  # fmt: skip
    assert ids(q) == [2, 1, 3]  # places: NOW - 200, NOW - 60, NOW - 50
    assert insert_at(q, gang(9, 1, 8, NOW), 10.0) == 1  # NOW - 80
    assert insert_at(q, gang(9, 1, 1, NOW), 10.0) == 3  # NOW - 10: last
    assert insert_at(q, gang(9, 1, 1, NOW, priority=1), 10.0) == 0  # priority first
    assert insert_at(q, gang(9, 1, 8, NOW), 0.0) == 3  # without a credit: behind its priority


def _state(queue, credit: float, free=(8, 8)) -> ClusterState:
    nodes = {f"n{i}": Node(f"n{i}", NODE, 110, NODE - Res(0, 0, 8 - g), 110)
             for i, g in enumerate(free)}  # fmt: skip
    alpha = TeamState("alpha", 1.0, NODE.scale(4), 100, None, Res(), 0,
                      size_ordered(tuple(queue), credit))  # fmt: skip
    return ClusterState((alpha,), NODE.scale(2), NOW, 600.0, None, {}, nodes,
                        size_credit_seconds=credit)  # fmt: skip


def test_with_a_credit_the_gang_is_admitted_first_and_small_jobs_fill_what_it_leaves():
    """Two empty 8-gpu nodes; queued in this order: 3 x 1 gpu, then a 2 x 8-gpu gang. First
    come, first served admits the three small jobs, and the gang waits for whole nodes;
    with a credit the gang goes first, and the small jobs wait for it to end."""
    queue = [gang(1, 1, 1, NOW - 30), gang(2, 1, 1, NOW - 29), gang(3, 1, 1, NOW - 28),
             gang(4, 2, 8, NOW - 27)]  # fmt: skip
    assert [a.job_id for a in A.decide(_state(queue, 0.0), 10)] == [1, 2, 3]
    assert [a.job_id for a in A.decide(_state(queue, 30.0), 10)] == [4]
    plan = A.explain(_state(queue, 30.0))
    assert plan.team_order["alpha"] == [4, 1, 2, 3]
    assert plan.pending[1].reason == A.WAITING_FOR_CAPACITY


def test_a_dry_run_lands_where_the_credit_puts_it():
    queue = [gang(1, 1, 1, NOW - 30), gang(2, 1, 2, NOW - 29)]
    s = _state(queue, 30.0, free=(0, 0))
    p = A.preview(s, "alpha", gang(A.PREVIEW_ID, 2, 8, NOW))
    assert p.position == 0 and not p.admissible_now
    q = enqueue(s, "alpha", gang(A.PREVIEW_ID, 1, 1, NOW)).teams[0].queue
    assert ids(q) == [2, 1, A.PREVIEW_ID]
