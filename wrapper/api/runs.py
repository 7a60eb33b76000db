"""Training metrics per run and the comparison of a team's runs:
`POST /v1/teams/{team}/jobs/{id}/metrics` (the trainer, with its job's metrics token),
`GET` of the same path (the team), `GET /v1/teams/{team}/runs`. The channel's design and
bounds: docs/observability.md; the checks: `wrapper.runs.reports`."""

from flask import Blueprint, request

from wrapper.api import paging
from wrapper.api.auth import authenticate, authorize_team
from wrapper.api.bodies import json_body
from wrapper.api.errors import ApiError, not_found, validation_error
from wrapper.api.routes import Reply, Routes, errors
from wrapper.api.schemas.runs import MetricsAccepted, RunList, RunMetrics
from wrapper.api.services import services
from wrapper.clock import iso
from wrapper.jobs.states import JobStatus
from wrapper.runs import comparison, reports, tokens
from wrapper.runs.reports import MetricsReport
from wrapper.runs.store import RateLimited, TooManyPoints
from wrapper.runs.store import RunMetrics as MetricsStore

bp = Blueprint("runs", __name__, url_prefix="/v1/teams/<team>")
routes = Routes(bp)
TAGS = ("Training metrics and logs",)
# A trainer reports while its job may have pods; a finished job's metrics are closed.
REPORTING = frozenset({JobStatus.CREATED, JobStatus.RUNNING, JobStatus.RESTARTING})
RUNS_SCANNED = 1_000  # the team's newest jobs compared per request
RUNS_LIMIT_MAX, RUNS_LIMIT_DEFAULT = 200, 50
RUN_PARAMS = (
    {"name": "algorithm", "in": "query", "description": "Only runs of this registered algorithm",
     "schema": {"type": "string", "maxLength": 63}},
    {"name": "dataset_id", "in": "query", "description": "Only runs on this dataset id",
     "schema": {"type": "string", "maxLength": 253}},
    {"name": "sort", "in": "query",
     "description": "`[-]key`: `id`, `submitted_at`, `finished_at` or a final metric the runs "
                    "report (e.g. `-test_accuracy`); runs without it last. Default `-id`",
     "schema": {"type": "string", "pattern": "^-?[a-z][a-z0-9_]{0,63}$"}},
    {"name": "limit", "in": "query",
     "schema": {"type": "integer", "minimum": 1, "maximum": RUNS_LIMIT_MAX,
                "default": RUNS_LIMIT_DEFAULT}},
)  # fmt: skip
REPORT_ERRORS = {
    400: "Malformed JSON",
    401: "No valid metrics token for this job (also an unknown job or another team's)",
    404: "No such path (the job id is not an integer)",
    409: "The job is not running (it ended, or has not been dispatched)",
    413: "Body larger than 64 KiB",
    415: "Body is not application/json",
    422: "Validation failed; `errors` names each bad field; or the run already holds 1,000 "
         "epoch points (`epochs`)",
    429: "More than 10 reports per second for this job; see Retry-After",
    503: "Redis is unavailable; nothing was stored",
}  # fmt: skip


def _store() -> MetricsStore:
    return MetricsStore(services().store.redis)


def _team_record(team: str, job_id: int) -> dict:
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    record = svc.store.get(job_id)
    if record is None or record["team"] != team:
        raise not_found("job")
    return record


def _unauthorized() -> ApiError:
    return ApiError(401, "unauthorized", "Unauthorized",
                    "Send this job's metrics token (TRAINQ_METRICS_TOKEN) as a bearer token.",
                    headers={"WWW-Authenticate": 'Bearer realm="trainq-metrics"'})  # fmt: skip


@routes.post(
    "/jobs/<int:job_id>/metrics", tags=TAGS, public=True, body=MetricsReport,
    summary="Report a running job's training metrics (its trainer, with the job's metrics token)",
    description="Authenticated by the job's own metrics token (`TRAINQ_METRICS_TOKEN`, injected "
                "with `TRAINQ_METRICS_URL`), not a team token: it may only append this job's "
                "metrics, while the job runs. Bounded: 64 KiB per body, 100 epoch points per "
                "report, 1,000 per job, 32 values per point, 10 reports per second.",
    reply=Reply(202, "Stored", MetricsAccepted), errors=REPORT_ERRORS,
)  # fmt: skip
def report_metrics(team: str, job_id: int):
    svc = services()
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise _unauthorized()
    record = svc.store.get(job_id)
    # One answer for a wrong token, an unknown job and another team's: no existence oracle.
    if record is None or record["team"] != team or not tokens.valid(record, presented.strip()):
        raise _unauthorized()
    if record["status"] not in REPORTING:
        detail = f"Job {job_id} is {record['status']}: its metrics are closed."
        raise ApiError(409, "conflict", "Conflict", detail)
    if (request.content_length or 0) > reports.MAX_BODY_BYTES:
        raise ApiError(413, "payload-too-large", "Payload Too Large", "At most 64 KiB.")
    report = MetricsReport.model_validate(json_body())
    limits = svc.config.limits, svc.config.retention
    ttl = limits[0].max_runtime_seconds + limits[1].finished_seconds
    try:
        points = _store().append(job_id, report, ttl)
    except RateLimited:
        raise ApiError(429, "too-many-requests", "Too Many Requests",
                       f"At most {reports.MAX_REPORTS_PER_SECOND} reports per second per job.",
                       headers={"Retry-After": "1"}) from None  # fmt: skip
    except TooManyPoints:
        full = f"the run already holds {reports.MAX_POINTS_PER_JOB} epoch points"
        raise validation_error([{"field": "epochs", "message": full}]) from None
    return {"points": points}


@routes.get("/jobs/<int:job_id>/metrics", tags=TAGS,
            summary="A job's training metrics: the per-epoch series and the final values",
            reply=Reply(200, "The run's metrics", RunMetrics),
            errors=errors(401, 404, 503))  # fmt: skip
def get_metrics(team: str, job_id: int):
    record = _team_record(team, job_id)
    data = _store().read(job_id)
    epochs = [{"epoch": p["epoch"], "values": {k: v for k, v in p.items() if k != "epoch"}}
              for p in data["epochs"]]  # fmt: skip
    return {
        "job_id": job_id, "status": record["status"], "epochs": epochs, "final": data["final"],
        "weights_sha256": data["weights_sha256"], "hyperparameters": data["hyperparameters"],
        "reported_at": iso(data["reported_at"]) if data["reported_at"] else None,
        "non_finite_loss": data["non_finite_loss"],
    }  # fmt: skip


@routes.get("/runs", tags=TAGS, params=RUN_PARAMS,
            summary="Compare the team's runs with what made them, sorted by a final metric",
            description=f"Among the team's newest {RUNS_SCANNED:,} jobs.",
            reply=Reply(200, "The runs", RunList), errors=errors(401, 404, 422, 503))  # fmt: skip
def list_runs(team: str):
    svc = services()
    authorize_team(authenticate(svc.config), team, svc.config)
    algorithm, dataset_id = request.args.get("algorithm"), request.args.get("dataset_id")
    too_long = [{"field": p["name"], "message": f"at most {p['schema']['maxLength']} characters"}
                for p in RUN_PARAMS[:2] if len(request.args.get(p["name"]) or "") >
                p["schema"]["maxLength"]]  # fmt: skip
    if too_long:
        raise validation_error(too_long)
    limit = paging.int_arg("limit", 1, RUNS_LIMIT_MAX, RUNS_LIMIT_DEFAULT)
    records, cursor = [], None
    while len(records) < RUNS_SCANNED:
        page, cursor = svc.store.list_team(team, None, 500, cursor)
        records += page
        if not cursor:
            break
    scanned = len(records)
    records = [r for r in records if comparison.matches(r, algorithm, dataset_id)]
    summaries = _store().summaries([r["id"] for r in records])
    runs = [comparison.run(r, s) for r, s in zip(records, summaries, strict=True)]
    try:
        key, descending = comparison.parse_sort(request.args.get("sort", "-id"), runs)
    except comparison.BadSort as exc:
        raise validation_error([{"field": "sort", "message": str(exc)}]) from None
    return {"items": comparison.sort(runs, key, descending)[:limit], "scanned": scanned}
