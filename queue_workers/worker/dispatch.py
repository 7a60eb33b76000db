"""The RQ job function: create (or adopt) the PyTorchJob for one claimed trainq job.

Crash safety: the PyTorchJob's name is derived from the job id, so any retry of a dispatch
(after a worker died, or a transient error) meets AlreadyExists, checks the labels say it is
this job's, and adopts it: never two PyTorchJobs for one job. An adopted PyTorchJob is resumed
(it is suspended when its job was re-queued because its pods were not ready). While a job is
`dispatching` it holds a lease in Redis; an expired lease sends it back to the front of its
team queue (`wrapper.jobs.leases.requeue_expired`). Creating, adopting, resuming and deleting
the PyTorchJob are `queue_workers.kube.client.Kube`'s; this module decides what the job record
becomes.

One create in flight beside the next claim: in a worker process (`Creates`), the call to the
apiserver and what follows it run on a thread of their own, so the worker claims and prepares
its next job meanwhile (about a quarter of a dispatch's time went to the claim and RQ's
bookkeeping, with the apiserver idle for this worker). The next hand-off waits for the one in
flight, so a worker never has more than one create outstanding. A worker that dies in between
leaves its job `dispatching` with a lease, as a worker killed mid-create always did.

Bounded retries: transient errors (an unreachable or slow apiserver, RQ's job timeout cutting
a slow call short) are retried with backoff for `dispatch.retry_budget_seconds` from the first
one, then the job fails with the last error. What dispatch builds is checked against the
team's config first (`queue_workers.worker.recheck`): the record in Redis is not trusted.
"""

import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from rq import get_current_job
from rq.timeouts import JobTimeoutException

from queue_workers.kube import backends, pytorchjob
from queue_workers.kube.client import Kube
from queue_workers.kube.errors import NotOurs, error_message, is_transient, permanent_message
from queue_workers.worker import recheck
from wrapper.clock import utcnow
from wrapper.config import TrainqConfig, load_or_exit
from wrapper.jobs import leases
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.metrics import events
from wrapper.redis import connect

log = logging.getLogger(__name__)
DISPATCHING = frozenset({JobStatus.DISPATCHING})
HANDED_OFF = "creating"  # the RQ job's result when its create runs on (Creates)
# When this dispatch's first transient error happened (epoch seconds); cleared once created.
RETRYING_SINCE = "dispatch_retrying_since"


class Creates:
    """A worker's create in flight: at most one, on its own thread, beside the next claim."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="trainq-create")
        self._pending: Future | None = None

    def start(self, job_id: int, finish: Callable[[], str]) -> None:
        self.wait()
        self._pending = self._pool.submit(_counted, job_id, finish)

    def wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()


def _counted(job_id: int, finish: Callable[[], str]) -> str:
    try:
        result = finish()
    except Exception:  # the lease re-dispatches it; counted and logged, never lost silently
        events.dispatch_attempt("error")
        log.exception("job %s: dispatch stopped on an error; its lease re-dispatches it", job_id)
        return "error"
    events.dispatch_attempt(result.partition(" ")[0])  # created, retrying, failed, ...
    return result


@dataclass
class Context:
    config: TrainqConfig
    store: JobStore
    kube: Kube
    # When this worker's last dispatch succeeded, and last met a transient error (monotonic).
    seen: dict = field(default_factory=lambda: {"success": time.monotonic(), "transient": 0.0})
    creates: Creates | None = None  # None: the create runs in the caller (tests, plain rq)


_context: Context | None = None


def configure(ctx: Context) -> None:
    global _context
    _context = ctx


def settle() -> None:
    """Wait for this process's create in flight, if any (before a worker process exits)."""
    if _context is not None and _context.creates is not None:
        _context.creates.wait()


def context() -> Context:
    """The process-wide context; built from the environment when a plain `rq worker` runs us."""
    if _context is None:
        settings, config = load_or_exit()
        teams = [t.name for t in config.teams]
        configure(
            Context(
                config,
                JobStore(
                    connect(*settings.redis_target), teams, max_events=config.events.max_per_team
                ),
                Kube(settings.kubeconfig),
            )
        )
    return _context


def dispatch_job(job_id: int | None = None) -> str:
    """The RQ job function. Its RQ job's id is the trainq job id (the RQ job is written without
    arguments by the SUBMIT script); an explicit id is for running it by hand."""
    if job_id is None:
        job_id = get_current_job().id
    try:
        result = dispatch(context(), int(job_id))
    except BaseException:
        events.dispatch_attempt("error")  # (RQ records it; the lease re-dispatches the job)
        raise
    if result != HANDED_OFF:  # (a handed-off create is counted when it ends)
        events.dispatch_attempt(result.partition(" ")[0])  # retrying, failed, skipped, ...
    return result


def _test_hook(point: str, job_id: int) -> None:
    """Fault injection for the crash tests, off unless TRAINQ_TEST_HOOK is set:
    TRAINQ_TEST_HOOK=<point>:<marker file> makes a dispatch that reaches <point>
    ('before-create' or 'after-create') write its job id to the marker file and wait while
    that file exists, so a test can SIGKILL the worker at exactly that place, or act (cancel)
    and then let it continue by deleting the file. RQ's job timeout bounds the wait."""
    spec = os.environ.get("TRAINQ_TEST_HOOK", "")
    hook_point, _, marker = spec.partition(":")
    if hook_point != point or not marker:
        return
    path = Path(marker)
    written = path.with_name(path.name + ".writing")
    written.write_text(str(job_id))
    written.replace(path)  # (atomic: a test that sees the marker reads the id, never '')
    log.warning("TRAINQ_TEST_HOOK: job %s paused at %s", job_id, point)
    while path.exists():
        time.sleep(0.1)
    log.warning("TRAINQ_TEST_HOOK: job %s resumed", job_id)


def _fail(ctx: Context, job_id: int, message: str) -> str:
    log.error("job %s: dispatch failed permanently: %s", job_id, message)
    fields = {"reason": "DispatchFailed", "message": message, "finished_at": utcnow()}
    ctx.store.transition(job_id, JobStatus.FAILED, fields, expect=DISPATCHING)
    return "failed"


def backoff(base: float, cap: float, attempt: int) -> float:
    """The wait before retry `attempt` (1, 2, ...): doubling from base, capped (the exponent
    is bounded first: 2.0 ** 1024 overflows)."""
    return min(base * 2.0 ** min(max(attempt - 1, 0), 62), cap)


# An outage: transient errors and no successful dispatch for this long. The first success
# after one ends every waiting retry's backoff (wrapper.jobs.leases.retry_now); a single job's
# errors between other jobs' successes keep their backoff.
OUTAGE_SECONDS = 5.0


def _after_success(ctx: Context) -> None:
    now, seen = time.monotonic(), ctx.seen
    if seen["transient"] > seen["success"] and now - seen["success"] >= OUTAGE_SECONDS:
        released = leases.retry_now(ctx.store, RETRYING_SINCE)
        log.info("dispatch works again after %.0fs: %d waiting retries go now",
                 now - seen["success"], released)  # fmt: skip
    seen["success"] = now


def _retry_later(ctx: Context, record: dict, attempt: int, message: str) -> str:
    ctx.seen["transient"] = time.monotonic()
    job_id, d = record["id"], ctx.config.dispatch
    now = time.time()
    since = record.get(RETRYING_SINCE) or now
    if now - since >= d.retry_budget_seconds:
        return _fail(ctx, job_id, f"gave up after {attempt} attempts over {now - since:.0f}s "
                     f"(dispatch.retry_budget_seconds: {d.retry_budget_seconds:g}); last error: "
                     f"{message}")  # fmt: skip
    delay = backoff(d.backoff_base_seconds, d.backoff_max_seconds, attempt)
    log.warning(
        "job %s: transient error (attempt %d), retry in %.0fs: %s", job_id, attempt, delay, message
    )
    fields = {
        "reason": "DispatchRetrying",
        "message": f"attempt {attempt} failed, retrying in {delay:.0f}s: {message}",
        RETRYING_SINCE: since,
    }
    ctx.store.transition(
        job_id,
        JobStatus.DISPATCHING,
        fields,
        expect=DISPATCHING,
        lease_deadline=time.time() + delay,
    )
    return "retrying"


def _failed_call(ctx: Context, record: dict, attempt: int, namespace: str,
                 exc: BaseException) -> str:  # fmt: skip
    if isinstance(exc, JobTimeoutException):  # RQ's timeout cut a slow call short
        return _retry_later(ctx, record, attempt, f"no answer in time ({exc})")
    if is_transient(exc):
        return _retry_later(ctx, record, attempt, error_message(exc))
    return _fail(ctx, record["id"], permanent_message(exc, namespace))


def dispatch(ctx: Context, job_id: int) -> str:
    record = ctx.store.get(job_id)
    if record is None or record["status"] != JobStatus.DISPATCHING:
        # Cancelled meanwhile, or already dispatched by an earlier attempt.
        return f"skipped ({record['status'] if record else 'missing'})"
    team = ctx.config.team(record["team"])
    if team is None:
        return _fail(ctx, job_id, f"team {record['team']!r} is no longer configured")
    namespace, instance = team.namespace, ctx.config.instance
    counted = ctx.store.counted_nodes(job_id)
    pod = {
        **team.pod_placement(),
        "terminationGracePeriodSeconds": ctx.config.dispatch.termination_grace_seconds,
    }
    checkpoints = team.checkpoints and pytorchjob.CheckpointMount(
        team.checkpoints.claim, ctx.config.dispatch.checkpoint_path
    )
    # A job keeps the kind it was first created as (a re-admitted one adopts it again).
    backend = backends.of(record, team.backend)
    body = backend.build(record, namespace, instance, pod, counted, checkpoints,
                         ctx.config.dispatch.metrics_url, team.trainjob_runtime)  # fmt: skip
    kind = backend.kind
    problems = backend.problems(body)
    if problems:
        return _fail(ctx, job_id, f"invalid {kind}: " + "; ".join(problems))
    refused = recheck.problems(body, team, ctx.config, backend)
    if refused:
        return _fail(ctx, job_id, f"refused: the job record does not pass team {team.name}'s "
                     "config: " + "; ".join(refused))  # fmt: skip
    attempt = record["attempts"]  # counted by the admission that handed the job out

    def finish() -> str:
        return _create(ctx, record, namespace, body, backend, attempt)

    if ctx.creates is None:
        return finish()
    ctx.creates.start(job_id, finish)
    return HANDED_OFF


def _create(ctx: Context, record: dict, namespace: str, body: dict, backend,
            attempt: int) -> str:  # fmt: skip
    """Create or adopt the built workload, then record the job `created`."""
    job_id, instance = record["id"], ctx.config.instance
    name, kind = body["metadata"]["name"], backend.kind
    _test_hook("before-create", job_id)
    try:
        adopted = ctx.kube.create_or_adopt(namespace, body, record, instance, backend)
    except NotOurs as exc:
        return _fail(ctx, job_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - classified there; nothing may escape unrecorded
        return _failed_call(ctx, record, attempt, namespace, exc)
    if adopted:
        log.info("job %s: adopting existing %s %s/%s", job_id, kind, namespace, name)
        # It may be suspended (re-queued when its pods were not ready: wrapper.admission.
        # readiness): resume it, so the operator recreates its pods on the nodes this
        # admission counted (pinned again: they may differ). Never a second PyTorchJob.
        try:
            ctx.kube.set_suspended(namespace, name, False, body, backend)
        except Exception as exc:  # noqa: BLE001 - classified as for the create
            return _failed_call(ctx, record, attempt, namespace, exc)
    _test_hook("after-create", job_id)
    fields = {
        "pytorchjob": {"namespace": namespace, "name": name},
        "backend": backend.name,
        "reason": "Dispatched",
        "message": f"{kind} {namespace}/{name} created",
        RETRYING_SINCE: None,
    }
    result = ctx.store.transition(job_id, JobStatus.CREATED, fields, expect=DISPATCHING,
                                  known=(JobStatus.DISPATCHING, record["team"]))  # fmt: skip
    if not result.applied and result.previous in (JobStatus.CANCELLING, JobStatus.CANCELLED):
        # Cancelled while we were creating it: do not leave the PyTorchJob behind.
        log.info("job %s was cancelled during dispatch; deleting %s/%s", job_id, namespace, name)
        ctx.kube.delete(namespace, name, ctx.config.dispatch.cancel_propagation, backend)
        return "cancelled"
    log.info("job %s: %s %s/%s in place (attempt %d)", job_id, kind, namespace, name, attempt)
    _after_success(ctx)
    return "created"
