"""Every Redis key name trainq uses, built in one place (RQ's own keys stay RQ's business).

Nobody else writes a key string by hand: Lua scripts receive keys (or, for job hashes, the
prefix below) from here.
"""

PREFIX = "trainq:"
JOB_KEY_PREFIX = PREFIX + "job:"

JOB_ID_COUNTER = PREFIX + "job-id-counter"
# Bumped before WAIT so that WAIT covers writes its connection did not make itself
# (wrapper.redis.replicas_acked).
REPLICATION_MARK = PREFIX + "replication-mark"
# job id -> lease deadline (epoch seconds) while a job is `dispatching`.
DISPATCH_LEASES = PREFIX + "dispatch-leases"
# Wake-up list for the canceller; the `cancelling` index set is the source of truth.
CANCEL_REQUESTS = PREFIX + "cancel-requests"

# Admission (wrapper.admission.store): job id -> "cpu|memory|gpu" it reserved, held from
# admission until the job ends; the cluster-wide sum of reservations; a wake-up list that idle
# workers block on; the cached cluster capacity; recent admissions (scored by time, for ETAs).
RESERVATIONS = PREFIX + "admission:reservations"
USAGE_TOTAL = PREFIX + "admission:usage"
ADMISSION_WAKE = PREFIX + "admission:wake"
CAPACITY = PREFIX + "admission:capacity"  # "updated_at": when a reader last confirmed the cache
ADMITTED_EVENTS = PREFIX + "admission:admitted"
# Job id -> where admission counted its replicas: {"each": [cpu, memory, gpu], "nodes": [...]}
# (one node per replica), held with its reservation; and a counter bumped whenever one is
# written or given back, so a worker's ADMIT can tell its node-level plan is still current.
PLACEMENTS = PREFIX + "admission:placements"
PLACEMENT_VERSION = PREFIX + "admission:placement-version"
# The node and pod cache, one field per entry so a change costs one field: node name -> the
# node compacted with what its counted pods request ("used"); trainq job id -> {node: its pods
# bound there}.
CACHED_NODES = PREFIX + "admission:nodes"
CACHED_BOUND = PREFIX + "admission:bound"
# What changed for admission's snapshot, so a worker reads only that: member "n:<node>",
# "b:<job>" (bound pods), "p:<job>" (placement) or "u:<team>" (usage), scored by a counter
# bumped per change (a member's latest change only). Trimmed to the newest CHANGES_KEPT
# members; the floor is the highest score trimmed (a reader behind it reads everything).
CHANGES = PREFIX + "admission:changes"
CHANGE_SEQ = PREFIX + "admission:change-seq"
CHANGES_FLOOR = PREFIX + "admission:changes-floor"
# Job id -> the epoch before which admission may not admit it again: jobs sent back to their
# queue because their pods were not all running in time (wrapper.admission.readiness). Entries
# outlive their time harmlessly (snapshots read only those not yet due) and are dropped when
# the job is requeued again or admitted; it stays as small as the jobs in backoff.
ADMISSION_BACKOFF = PREFIX + "admission:backoff"
# Room held for preemptors (job id -> JSON nomination: wrapper.admission.nominations).
NOMINATIONS = PREFIX + "admission:nominations"
# Bumped by whatever changes an admission plan (submission, admission, status change, re-queue,
# capacity change), so the API redoes its cached queue view only then.
ADMISSION_VERSION = PREFIX + "admission:version"
# Team -> a counter bumped whenever that team's queue (or the status of a job in it)
# changes, so a worker's snapshot re-reads only the queues that changed; and a token that
# tells a process its cached queues belong to this Redis data (gone after a flush).
QUEUE_VERSIONS = PREFIX + "admission:queue-versions"
QUEUE_EPOCH = PREFIX + "admission:queue-epoch"

# Retention (wrapper.jobs.retention): finished job ids scored by when they finished, one set
# for their records and one for their PyTorchJobs (each swept after its own time); and the
# PyTorchJobs of this instance that no job record owns ("namespace/name" -> JSON), as the
# watcher's last list found them.
FINISHED_JOBS = PREFIX + "finished:records"
FINISHED_PYTORCHJOBS = PREFIX + "finished:pytorchjobs"
LEFTOVER_PYTORCHJOBS = PREFIX + "leftover-pytorchjobs"
# Which indexes the job records have been indexed into (`wrapper.jobs.retention.index_records`).
RECORDS_INDEXED = PREFIX + "records-indexed"


def job_key(job_id: int | str) -> str:
    """Hash holding one job record."""
    return f"{JOB_KEY_PREFIX}{job_id}"


def status_index(status: str) -> str:
    """Set of job ids currently in a non-terminal `status` (terminal ones are not indexed)."""
    return f"{PREFIX}status:{status}"


def team_jobs(team: str) -> str:
    """Sorted set of a team's job ids, scored by id, for newest-first listing."""
    return f"{PREFIX}team:{team}:jobs"


def team_queue(team: str) -> str:
    """Sorted set of a team's queue in admission order (`wrapper.jobs.queues.queue_score`):
    O(log n) to insert by priority, find a place, take or remove a job at any depth."""
    return f"{PREFIX}team:{team}:queue"


def team_status(team: str, status: str) -> str:
    """Sorted set of a team's job ids in `status` (terminal ones too), scored by id: a
    `?status=` page reads only its own jobs."""
    return f"{PREFIX}team:{team}:status:{status}"


def team_status_prefix(team: str) -> str:
    """`team_status(team, s)` less the status, for scripts that learn the status inside."""
    return f"{PREFIX}team:{team}:status:"


def team_active(team: str) -> str:
    """Set of a team's dispatched, unfinished job ids (its running count)."""
    return f"{PREFIX}team:{team}:active"


def team_usage(team: str) -> str:
    """Hash of what a team's admitted, unfinished jobs reserved: cpu, memory, gpu, jobs."""
    return f"{PREFIX}team:{team}:usage"


def idempotency(team: str, key_digest: str) -> str:
    """Idempotency-Key record (job id and body digest) for one team."""
    return f"{PREFIX}team:{team}:idempotency:{key_digest}"


def submit_nonce(nonce: str) -> str:
    """A submission's request nonce -> the job id it created ('void': it never may), kept a
    short while so a submission whose reply was lost can be resolved exactly."""
    return f"{PREFIX}submit-nonce:{nonce}"


def team_submit_bucket(team: str) -> str:
    """Hash of a team's submission-rate token bucket: tokens, ts (epoch seconds)."""
    return f"{PREFIX}team:{team}:submit-bucket"


def rq_queue_name(team: str) -> str:
    """Name of a team's RQ queue (RQ stores it under rq:queue:<name>). Its list stays empty:
    the team's queue is `team_queue` (admission takes jobs from there, not RQ's dequeue)."""
    return f"trainq-{team}"


# --- the algorithm registry (wrapper.algorithms.registry) ---------------------------------
# Set of registered algorithm names.
ALGORITHM_NAMES = PREFIX + "algorithms"


def algorithm(name: str) -> str:
    """JSON record of one algorithm: current version and its version history."""
    return f"{PREFIX}algorithm:{name}"


# --- what a run leaves besides its record (wrapper.runs) ----------------------------------
# Kept apart from `job:<id>` so nothing that reads job hashes meets them; each expires on its
# own (the retention period after the job ends), so FORGET need not know them.
def run_metrics(job_id: int | str) -> str:
    """Hash of a run's reported metrics: "e:<epoch>" -> JSON point, "final" -> JSON, and
    "progress_at" / "nonfinite" for the stall alert (wrapper.runs.store)."""
    return f"{PREFIX}run:{job_id}:metrics"


def run_metrics_rate(job_id: int | str, second: int) -> str:
    """Reports accepted for a run in one wall-clock second (expires after two)."""
    return f"{PREFIX}run:{job_id}:metrics-rate:{second}"


def run_logs(job_id: int | str) -> str:
    """Hash of a finished run's kept logs: "<Replica>-<index>" -> the log's last bytes,
    "archived_at" -> when (wrapper.runs.logs)."""
    return f"{PREFIX}run:{job_id}:logs"


# --- events and webhooks (wrapper.events) ---------------------------------------------------
# Webhook deliveries waiting for their (next) attempt: "<team>/<event id>/<hook>" -> when due;
# and each one's state (its event, url, attempt) as JSON, kept until it succeeds or gives up.
WEBHOOKS_DUE = PREFIX + "webhooks:due"
WEBHOOK_DELIVERIES = PREFIX + "webhooks:deliveries"


def team_events(team: str) -> str:
    """Stream of a team's job events (bounded, MAXLEN ~ `events.max_per_team`): the SSE
    endpoint reads it, the watcher's webhook delivery follows it with a consumer group."""
    return f"{PREFIX}team:{team}:events"
