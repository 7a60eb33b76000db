"""The dry run of a submission, shared by both surfaces that submit (`POST /v1/teams/{team}/jobs`
and the MiniAutoML `POST /v1/train`): its query parameter as declared and read, and its 200
answer (`DryRun`). Deciding is `wrapper.jobs.submission.preview`, the submission path itself.

The routes' declared success reply is the real submission's, so the dry run's answer is built
here through its own model and handed back as a ready Response (`wrapper.api.routes.respond`).
"""

from flask import Response, request

from wrapper.admission import Preview
from wrapper.admission.views import amounts
from wrapper.api.errors import validation_error
from wrapper.api.routes import Reply
from wrapper.api.schemas import DryRun

PARAM = {
    "name": "dry_run",
    "in": "query",
    "required": False,
    "description": "true: validate the request as a submission and answer 200 with where the "
    "job would land now, writing nothing (no id, no record, no queue entry; an "
    "Idempotency-Key is ignored). Anything but true or false: 422",
    "schema": {"type": "boolean", "default": False},
}
REPLY = Reply(200, "Dry run (`dry_run=true`): where the job would land; nothing was written",
              DryRun)  # fmt: skip


def requested() -> bool:
    """Whether the request asks for a dry run (absent: no); 422 naming `dry_run` otherwise."""
    raw = request.args.get("dry_run")
    if raw is None or raw == "false":
        return False
    if raw == "true":
        return True
    raise validation_error([{"field": "dry_run", "message": "must be true or false"}])


def answer(p: Preview) -> Response:
    body = DryRun(
        team=p.team, admissible_now=p.admissible_now, position=p.position,
        global_position=p.global_position, pending_reason=p.reason, message=p.message,
        eta_seconds=p.eta_seconds, placement=list(p.placement), demand=amounts(p.job.demand),
        replicas=p.job.replicas,
    )  # fmt: skip
    return Response(body.model_dump_json(), 200, mimetype="application/json")
