"""The per-team queues. A team's queue is a sorted set in admission order (`keys.team_queue`,
scored by `queue_score` below: priority, then id), so inserting by priority, a job's place,
taking it and cancelling it cost O(log n) at any depth. Each queued job also has an RQ job
hash (trainq's job id is the RQ job id) that the worker runs once admission hands the job
out; RQ's own queue lists stay empty (`rq info` lists the queues and the workers; the depth
is in `GET /v1/queues`). This module owns the RQ side of a queued job (its RQ job hash,
written by the SUBMIT script), re-queues, removals, and the repair of a queue edited by
hand. Workers take jobs off these queues through admission (`wrapper.admission.store`, the
ADMIT script).
"""

from redis import Redis
from rq import Queue
from rq.exceptions import InvalidJobOperation, NoSuchJobError
from rq.job import Job
from rq.utils import now as rq_now
from rq.utils import utcformat

from wrapper.redis import keys
from wrapper.redis.signals import signal_change

# The RQ job function, by dotted path: `wrapper` must not import `queue_workers`.
DISPATCH_FUNC = "queue_workers.worker.dispatch.dispatch_job"
# A dispatch is a few apiserver calls; RQ kills it after this long.
DISPATCH_TIMEOUT_S = 120
RESULT_TTL_S = 3600

# A team queue's score: priority first (higher first), then the id (FIFO within a priority:
# ids only grow). Exact in a double while rank * 2**40 + id < 2**53 (ids below 2**40).
PRIORITY_BOUND = 1000  # priorities run from -PRIORITY_BOUND to PRIORITY_BOUND
QUEUE_ID_SPAN = 2**40
QUEUE_FRONT_SCORE = -1  # re-dispatches and re-queued jobs: ahead of every queued job


def queue_rank(priority: int) -> int:
    return PRIORITY_BOUND - priority


def queue_score(priority: int, job_id: int) -> int:
    return queue_rank(priority) * QUEUE_ID_SPAN + job_id


_PER_JOB = frozenset({"created_at", "enqueued_at", "description"})


class TeamQueues:
    def __init__(self, redis: Redis, teams: list[str]):
        self.redis = redis
        self.teams = list(teams)
        self.queues = {t: Queue(keys.rq_queue_name(t), connection=redis) for t in self.teams}
        self._rq_templates: dict[str, list] = {}

    def queue(self, team: str) -> Queue:
        return self.queues[team]

    def _rq_job(self, team: str, job_id: int) -> Job:
        # No arguments: the dispatch reads its trainq id from the RQ job's id, so every RQ job
        # hash is the same template plus id-specific fields (see `rq_job_fields`).
        job = self.queues[team].create_job(
            DISPATCH_FUNC,
            job_id=str(job_id),
            timeout=DISPATCH_TIMEOUT_S,
            result_ttl=RESULT_TTL_S,
            description=str(job_id).join(self.rq_description(team)),
        )
        job.enqueued_at = rq_now()
        return job

    def rq_job_fields(self, team: str) -> list:
        """The hash RQ's `Job.save` would write for a new job of this team, as field/value
        pairs, for the SUBMIT script (which adds the id and the description)."""
        template = self._rq_templates.get(team)
        if template is None:
            fields = self._rq_job(team, 0).to_dict()
            template = [x for k, v in fields.items() if k not in _PER_JOB for x in (k, v)]
            self._rq_templates[team] = template
        stamp = utcformat(rq_now())
        return [*template, "created_at", stamp, "enqueued_at", stamp]

    @staticmethod
    def rq_description(team: str) -> tuple[str, str]:
        """An RQ job's description before and after its id (see `_rq_job`)."""
        return "dispatch trainq job ", f" ({team})"

    @staticmethod
    def key(team: str) -> str:
        return keys.team_queue(team)

    def requeue_front(self, team: str, job_id: int) -> None:
        """Put a job back at the front of its team queue (a re-dispatch, or a job re-queued
        after its pods were not ready); nothing when it is there already."""
        self._requeue(team, job_id, QUEUE_FRONT_SCORE)

    def requeue_in_place(self, team: str, job_id: int, priority: int) -> None:
        """Put a queued job missing from its queue back where its priority and id place it."""
        self._requeue(team, job_id, queue_score(priority, job_id))

    def _requeue(self, team: str, job_id: int, score: int) -> None:
        with self.redis.pipeline() as pipe:
            self._rq_job(team, job_id).save(pipeline=pipe)
            pipe.zadd(self.key(team), {str(job_id): score}, nx=True)
            signal_change(pipe, team=team)
            pipe.execute()

    def set_aside(self, team: str, job_id: int) -> None:
        """Take a suspended job out of its queue; its RQ job stays for its resumption."""
        with self.redis.pipeline() as pipe:
            pipe.zrem(self.key(team), str(job_id))
            # (the status change's own transition already signalled the plan and the workers)
            signal_change(pipe, plan=False, team=team, wake=0)
            pipe.execute()

    def remove(self, team: str, job_id: int) -> None:
        """Drop a cancelled job from its queue (a stale entry would be skipped anyway), and
        its RQ job."""
        try:
            Job.fetch(str(job_id), connection=self.redis).cancel()
        except (NoSuchJobError, InvalidJobOperation):
            pass
        self.set_aside(team, job_id)

    def position(self, team: str, job_id: int) -> int | None:
        return self.redis.zrank(self.key(team), str(job_id))

    def ids(self, team: str, start: int = 0, stop: int = -1) -> list[int]:
        """Queue entries start..stop (inclusive, like ZRANGE) in admission order."""
        return [int(x) for x in self.redis.zrange(self.key(team), start, stop)]

    def depth(self, team: str) -> int:
        return self.redis.zcard(self.key(team))

    def place_of_new(self, team: str, priority: int) -> tuple[int, int]:
        """(the queue's depth, how many entries a job submitted now at `priority` would have
        ahead of it), in one round trip."""
        below = (queue_rank(priority) + 1) * QUEUE_ID_SPAN
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(self.key(team))
            pipe.zcount(self.key(team), "-inf", f"({below}")
            depth, ahead = pipe.execute()
        return depth, ahead

    def depths(self, teams: list[str]) -> dict[str, int]:
        with self.redis.pipeline(transaction=False) as pipe:
            for team in teams:
                pipe.zcard(self.key(team))
            return dict(zip(teams, pipe.execute(), strict=True))

    def missing(self, entries: list[tuple[str, int]]) -> list[tuple[str, int]]:
        """Which (team, job id) entries are not in their team queue (one round trip)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for team, job_id in entries:
                pipe.zscore(self.key(team), str(job_id))
            scores = pipe.execute()
        return [e for e, score in zip(entries, scores, strict=True) if score is None]

    def drop_rq_lists(self) -> int:
        """Delete what an older trainq left in RQ's queue lists (the queues were lists then);
        the repair that follows (`queue_workers.watcher.mirror`) re-queues those jobs from
        the queued index. Returns how many entries there were."""
        with self.redis.pipeline() as pipe:
            for queue in self.queues.values():
                pipe.llen(queue.key)
                pipe.delete(queue.key)
            replies = pipe.execute()
        return sum(replies[0::2])

    def fetch_rq_job(self, team: str, job_id: int) -> Job:
        """The RQ job for a claimed id, recreated if RQ already expired its hash."""
        try:
            return Job.fetch(str(job_id), connection=self.redis)
        except NoSuchJobError:
            job = self._rq_job(team, job_id)
            job.save()
            return job
