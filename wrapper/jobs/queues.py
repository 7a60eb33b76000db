"""The per-team RQ queues: trainq's job id is the RQ job id, so `rq info` shows each team's
depth. This module owns the RQ side of a queued job (its RQ job hash, written by the SUBMIT
script in priority order), re-queues to the front, and removals. Workers take jobs
off these queues through admission (`wrapper.admission.store`, the ADMIT script).
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

    def requeue_front(self, team: str, job_id: int) -> None:
        """Put a job back at the front of its team queue for another dispatch attempt."""
        queue = self.queues[team]
        if self.redis.lpos(queue.key, str(job_id)) is not None:
            return
        with self.redis.pipeline() as pipe:
            self._rq_job(team, job_id).save(pipeline=pipe)
            pipe.sadd(queue.redis_queues_keys, queue.key)
            pipe.lpush(queue.key, job_id)
            signal_change(pipe, team=team)
            pipe.execute()

    def remove(self, team: str, job_id: int) -> None:
        """Drop a cancelled job from its queue (a stale entry would be skipped anyway)."""
        try:
            Job.fetch(str(job_id), connection=self.redis).cancel()
        except (NoSuchJobError, InvalidJobOperation):
            pass
        with self.redis.pipeline() as pipe:
            pipe.lrem(self.queues[team].key, 0, str(job_id))
            # (the cancellation's own transition already signalled the plan and the workers)
            signal_change(pipe, plan=False, team=team, wake=0)
            pipe.execute()

    def position(self, team: str, job_id: int) -> int | None:
        return self.redis.lpos(self.queues[team].key, str(job_id))

    def ids(self, team: str) -> list[int]:
        return [int(x) for x in self.redis.lrange(self.queues[team].key, 0, -1)]

    def depth(self, team: str) -> int:
        return self.redis.llen(self.queues[team].key)

    def fetch_rq_job(self, team: str, job_id: int) -> Job:
        """The RQ job for a claimed id, recreated if RQ already expired its hash."""
        try:
            return Job.fetch(str(job_id), connection=self.redis)
        except NoSuchJobError:
            job = self._rq_job(team, job_id)
            job.save()
            return job
