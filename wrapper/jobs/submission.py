"""Submitting a job: the one use case every HTTP surface calls (`POST /v1/teams/{team}/jobs`,
the MiniAutoML `POST /v1/train`). The surface validates its own request shape and turns it into
a spec (the deployment's defaults filled in); from there every job goes the same way: a named
algorithm is fixed to its current version, a job that can never be admitted is refused, and
the record, its RQ job and its queue entry are written in one step. A dry run (`preview`)
goes the same way up to that step and, instead of writing, asks the admission policy where
the job would land."""

from dataclasses import dataclass, field

from wrapper import admission
from wrapper.admission import PREVIEW_ID, Candidate, Preview
from wrapper.admission.ordering import insert_at
from wrapper.admission.store import AdmissionStore
from wrapper.algorithms.registry import AlgorithmRegistry, resolved_spec
from wrapper.jobs.store import JobStore, body_digest


class UnknownAlgorithm(Exception):
    """The request names an algorithm the registry does not know."""

    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


class NeverFits(Exception):
    """The job asks for more than its team may ever hold or than its nodes have."""

    DETAIL = ("The job can never be admitted: it asks for more than its team may ever hold or "
              "than the cluster has.")  # fmt: skip

    def __init__(self, problems: list[dict]):
        super().__init__("; ".join(p["message"] for p in problems))
        self.problems = problems  # [{"field", "message"}], fields as in JobRequest


@dataclass(frozen=True)
class Submission:
    team: str
    spec: dict  # validated, defaults filled in
    algorithm: str | None = None  # a registered algorithm's name (spec["image"] is then None)
    extra: dict = field(default_factory=dict)  # kept in the spec as given (e.g. train_metadata)
    idempotency_key: str | None = None
    body: dict | None = None  # the request as sent: an Idempotency-Key's replay compares it


def submit(store: JobStore, admissions: AdmissionStore, algorithms: AlgorithmRegistry,
           sub: Submission) -> tuple[dict, bool]:  # fmt: skip
    """Queue the job. Returns (record, replayed): replayed when the Idempotency-Key already
    named a job with the same body. Raises UnknownAlgorithm, NeverFits, or
    IdempotencyConflict (the key was used with another body); nothing is written then."""
    spec = _accepted(admissions, algorithms, sub)
    key = sub.idempotency_key
    digest = body_digest(sub.body or {}) if key is not None else ""  # only a replay reads it
    return store.submit(sub.team, spec, key, digest)


def preview(admissions: AdmissionStore, algorithms: AlgorithmRegistry,
            sub: Submission) -> Preview:  # fmt: skip
    """A dry run: where the job would land if it were submitted now (the admission plan over
    the first `admission.lookahead` jobs of each team, with the job queued as `submit` would
    queue it; deeper than that, its place only). Raises what `submit` raises before
    it writes (UnknownAlgorithm, NeverFits); writes nothing, so it takes no id and its
    Idempotency-Key, if any, means nothing."""
    spec = _accepted(admissions, algorithms, sub)
    lookahead = admissions.lookahead
    state, _ = admissions.load(lookahead, read_only=True)
    job = Candidate.of_spec(PREVIEW_ID, spec, state.now)
    queue = next(t.queue for t in state.teams if t.name == sub.team)
    depth, ahead = admissions.new_job_place(sub.team, job.priority)
    if depth >= lookahead and insert_at(queue, job, state.size_credit_seconds) >= len(queue):
        # It would land deeper than admission looks: its place, and no plan yet.
        return Preview(sub.team, job, ahead, None, admission.WAITING_FOR_TEAM_QUEUE,
                       admission.team_queue_message(ahead, lookahead), None, ())  # fmt: skip
    return admission.preview(state, sub.team, job)


def _accepted(admissions: AdmissionStore, algorithms: AlgorithmRegistry,
              sub: Submission) -> dict:  # fmt: skip
    """The spec as it would be queued: a named algorithm fixed to its current version, the
    surface's extra fields kept. Raises UnknownAlgorithm, or NeverFits for a job that can
    never be admitted."""
    spec = sub.spec
    if sub.algorithm is not None:
        current = algorithms.resolve(sub.algorithm)
        if current is None:
            raise UnknownAlgorithm(sub.algorithm)
        spec = resolved_spec(spec, current)
    never = admissions.never_fits(sub.team, spec)
    if never:
        raise NeverFits(never)
    return {**spec, **sub.extra}
