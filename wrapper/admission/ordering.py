"""Order within a team's priority (pure): first come, first served, or with a size credit.

A team queue in Redis is ordered by priority, then submission (`wrapper.jobs.queues`). With
`admission.size_credit_seconds` = c > 0, admission reads each team's queue (the part it looks
at: `admission.lookahead`) in the order of priority, then `submitted - c x gpus asked`: a job
is placed as if submitted c seconds earlier per gpu it asks (Slurm's job-size priority factor,
favouring large jobs). Large gangs so start before the small jobs submitted about when they
were, and the small ones are left to fill the holes that the gangs leave, instead of the gangs
waiting at the end for whole nodes to drain (benchmarks/RESULTS.md, 4b). The credit is bounded: a
job is never passed by one submitted more than c x (the gpus they differ by) seconds after it.

Jobs put back at the front of their queue (re-queued after their pods were not ready) stay in
front. Every reader of the queue's order (workers, queue views, dry runs) goes through here,
so they agree.
"""

from wrapper.admission.snapshot import Candidate


def order_key(job: Candidate, credit: float) -> tuple[int, float, int]:
    """A job's place within its team's queue (smaller first)."""
    return (-job.priority, job.submitted - credit * job.demand.gpu, job.id)


def size_ordered(queue: tuple[Candidate, ...], credit: float,
                 front: int = 0) -> tuple[Candidate, ...]:  # fmt: skip
    """`queue` (in the team queue's order; its first `front` jobs were put back at the front)
    in admission's order: unchanged without a credit."""
    if credit <= 0 or len(queue) - front < 2:
        return queue
    rest = sorted(queue[front:], key=lambda j: order_key(j, credit))
    return (*queue[:front], *rest)


def insert_at(queue: tuple[Candidate, ...], job: Candidate, credit: float) -> int:
    """Where a job submitted now goes in `queue` (admission's order): behind every job of
    equal or higher priority, and with a credit, behind every such job whose place is not
    after its own."""
    if credit <= 0:
        return next((i for i, q in enumerate(queue) if q.priority < job.priority), len(queue))
    key = order_key(job, credit)
    return next((i for i, q in enumerate(queue) if order_key(q, credit) > key), len(queue))


def queue_entries(read: list[list], scored: bool) -> tuple[list[list[int]], list[set[int]]]:
    """Per team queue, from its ZRANGE (`scored`: WITHSCORES): its entries' ids, and those
    put back at the front (a negative score, `wrapper.jobs.queues.QUEUE_FRONT_SCORE`)."""
    if not scored:
        return [[int(x) for x in ids] for ids in read], [set()] * len(read)
    ids = [[int(x) for x, _ in pairs] for pairs in read]
    return ids, [{int(x) for x, score in pairs if score < 0} for pairs in read]
