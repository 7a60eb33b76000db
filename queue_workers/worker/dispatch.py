"""The RQ job function: create (or adopt) the PyTorchJob for one claimed trainq job.

Crash safety: the PyTorchJob's name is derived from the job id, so any retry of a dispatch
(after a worker died, or a transient error) meets AlreadyExists, checks the labels say it is
this job's, and adopts it: never two PyTorchJobs for one job. An adopted PyTorchJob is resumed
(it is suspended when its job was re-queued because its pods were not ready). While a job is
`dispatching` it holds a lease in Redis; an expired lease sends it back to the front of its
team queue (`wrapper.jobs.leases.requeue_expired`). Creating, adopting, resuming and deleting
the PyTorchJob are `queue_workers.kube.client.Kube`'s; this module decides what the job record
becomes.
"""

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from rq import get_current_job

from queue_workers.kube import pytorchjob
from queue_workers.kube.client import Kube, NotOurs, error_message, is_transient
from wrapper.clock import utcnow
from wrapper.config import TrainqConfig, load_or_exit
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import JobStore
from wrapper.redis import connect

log = logging.getLogger(__name__)
DISPATCHING = frozenset({JobStatus.DISPATCHING})


@dataclass
class Context:
    config: TrainqConfig
    store: JobStore
    kube: Kube


_context: Context | None = None


def configure(ctx: Context) -> None:
    global _context
    _context = ctx


def context() -> Context:
    """The process-wide context; built from the environment when a plain `rq worker` runs us."""
    if _context is None:
        settings, config = load_or_exit()
        teams = [t.name for t in config.teams]
        configure(
            Context(config, JobStore(connect(settings.redis_url), teams), Kube(settings.kubeconfig))
        )
    return _context


def dispatch_job(job_id: int | None = None) -> str:
    """The RQ job function. Its RQ job's id is the trainq job id (the RQ job is written without
    arguments by the SUBMIT script); an explicit id is for running it by hand."""
    if job_id is None:
        job_id = get_current_job().id
    return dispatch(context(), int(job_id))


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
    path.write_text(str(job_id))
    log.warning("TRAINQ_TEST_HOOK: job %s paused at %s", job_id, point)
    while path.exists():
        time.sleep(0.1)
    log.warning("TRAINQ_TEST_HOOK: job %s resumed", job_id)


def _fail(ctx: Context, job_id: int, message: str) -> str:
    log.error("job %s: dispatch failed permanently: %s", job_id, message)
    fields = {"reason": "DispatchFailed", "message": message, "finished_at": utcnow()}
    ctx.store.transition(job_id, JobStatus.FAILED, fields, expect=DISPATCHING)
    return "failed"


def _retry_later(ctx: Context, job_id: int, attempt: int, message: str) -> str:
    d = ctx.config.dispatch
    delay = min(d.backoff_base_seconds * 2 ** (attempt - 1), d.backoff_max_seconds)
    log.warning(
        "job %s: transient error (attempt %d), retry in %.0fs: %s", job_id, attempt, delay, message
    )
    fields = {
        "reason": "DispatchRetrying",
        "message": f"attempt {attempt} failed, retrying in {delay:.0f}s: {message}",
    }
    ctx.store.transition(
        job_id,
        JobStatus.DISPATCHING,
        fields,
        expect=DISPATCHING,
        lease_deadline=time.time() + delay,
    )
    return "retrying"


def dispatch(ctx: Context, job_id: int) -> str:
    record = ctx.store.get(job_id)
    if record is None or record["status"] != JobStatus.DISPATCHING:
        # Cancelled meanwhile, or already dispatched by an earlier attempt.
        return f"skipped ({record['status'] if record else 'missing'})"
    team = ctx.config.team(record["team"])
    if team is None:
        return _fail(ctx, job_id, f"team {record['team']!r} is no longer configured")
    namespace, instance = team.namespace, ctx.config.instance
    body = pytorchjob.build(record, namespace, instance, team.pod_placement())
    name = body["metadata"]["name"]
    problems = pytorchjob.webhook_problems(body)
    if problems:
        return _fail(ctx, job_id, "invalid PyTorchJob: " + "; ".join(problems))
    attempt = record["attempts"]  # counted by the admission that handed the job out
    _test_hook("before-create", job_id)
    try:
        adopted = ctx.kube.create_or_adopt(namespace, body, record, instance)
    except NotOurs as exc:
        return _fail(ctx, job_id, str(exc))
    except Exception as exc:  # noqa: BLE001 - classified below; nothing may escape unrecorded
        if is_transient(exc):
            return _retry_later(ctx, job_id, attempt, error_message(exc))
        return _fail(ctx, job_id, error_message(exc))
    if adopted:
        log.info("job %s: adopting existing PyTorchJob %s/%s", job_id, namespace, name)
        # It may be suspended (re-queued when its pods were not ready: wrapper.admission.
        # readiness): resume it, so the operator recreates its pods. Never a second PyTorchJob.
        try:
            ctx.kube.set_suspended(namespace, name, False)
        except Exception as exc:  # noqa: BLE001 - classified as for the create
            if is_transient(exc):
                return _retry_later(ctx, job_id, attempt, error_message(exc))
            return _fail(ctx, job_id, error_message(exc))
    _test_hook("after-create", job_id)
    fields = {
        "pytorchjob": {"namespace": namespace, "name": name},
        "reason": "Dispatched",
        "message": f"PyTorchJob {namespace}/{name} created",
    }
    result = ctx.store.transition(job_id, JobStatus.CREATED, fields, expect=DISPATCHING,
                                  known=(JobStatus.DISPATCHING, record["team"]))  # fmt: skip
    if not result.applied and result.previous in (JobStatus.CANCELLING, JobStatus.CANCELLED):
        # Cancelled while we were creating it: do not leave the PyTorchJob behind.
        log.info("job %s was cancelled during dispatch; deleting %s/%s", job_id, namespace, name)
        ctx.kube.delete(namespace, name, ctx.config.dispatch.cancel_propagation)
        return "cancelled"
    log.info("job %s: PyTorchJob %s/%s in place (attempt %d)", job_id, namespace, name, attempt)
    return "created"
