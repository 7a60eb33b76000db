"""The one submission use case, with its collaborators replaced by recorders: what each HTTP
surface relies on (algorithm fixed to its current version, never-fits refused before anything
is written, the surface's extra fields kept, the Idempotency-Key digest of the body)."""

import pytest

from wrapper import admission as A
from wrapper.admission.resources import Res
from wrapper.admission.snapshot import ClusterState, TeamState
from wrapper.jobs.store import body_digest
from wrapper.jobs.submission import NeverFits, Submission, UnknownAlgorithm, preview, submit

SPEC = {"name": "a", "image": None, "command": None, "workers": 1, "priority": 0,
        "resources": {"cpu": "1", "memory": "1Gi", "gpu": 0}}  # fmt: skip
CURRENT = {"name": "algo", "version": "v2", "image_ref": "r/algo:v2", "command": ["run"]}


class Store:
    def __init__(self):
        self.calls = []

    def submit(self, team, spec, key, digest):
        self.calls.append((team, spec, key, digest))
        return {"id": 1, "spec": spec}, False


class Admissions:
    lookahead = 3

    def __init__(self, problems=(), depth=0):
        self.problems, self.seen, self.loads, self.depth = list(problems), [], [], depth

    def new_job_place(self, team, priority):
        return self.depth, self.depth

    def never_fits(self, team, spec):
        self.seen.append(spec)
        return self.problems

    def load(self, lookahead=None, read_only=False):
        self.loads.append(read_only)
        alpha = TeamState("alpha", 1.0, Res(8000, 2**35, 8), 10, None, Res(), 0, ())
        return ClusterState((alpha,), Res(8000, 2**35, 8), now=100.0), []


class Registry:
    def resolve(self, name):
        return CURRENT if name == "algo" else None


def test_a_named_algorithm_runs_its_current_version():
    store = Store()
    submit(store, Admissions(), Registry(), Submission("alpha", SPEC, "algo"))
    spec = store.calls[0][1]
    assert spec["image"] == "r/algo:v2" and spec["command"] == ["run"]
    assert spec["algorithm"] == {"name": "algo", "version": "v2"}


def test_unknown_algorithm_and_never_fits_write_nothing():
    store = Store()
    with pytest.raises(UnknownAlgorithm):
        submit(store, Admissions(), Registry(), Submission("alpha", SPEC, "nope"))
    problem = {"field": "resources.gpu", "message": "too many"}
    with pytest.raises(NeverFits) as raised:
        submit(store, Admissions([problem]), Registry(), Submission("alpha", SPEC, "algo"))
    assert raised.value.problems == [problem]
    assert store.calls == []


def test_extra_fields_are_kept_and_the_key_digests_the_body():
    store, admissions = Store(), Admissions()
    body = {"name": "a", "image": "x"}
    sub = Submission("beta", {**SPEC, "image": "x"}, extra={"train_metadata": {"m": 1}},
                     idempotency_key="k1", body=body)  # fmt: skip
    submit(store, admissions, Registry(), sub)
    team, spec, key, digest = store.calls[0]
    assert (team, key, digest) == ("beta", "k1", body_digest(body))
    assert spec["train_metadata"] == {"m": 1}
    assert "train_metadata" not in admissions.seen[0]  # sized on the job, not the metadata
    submit(store, admissions, Registry(), Submission("beta", {**SPEC, "image": "x"}))
    assert store.calls[1][3] == ""  # no key: no digest


def test_a_dry_run_goes_the_same_way_and_writes_nothing():
    """Same algorithm resolution and never-fits refusal as `submit`; then a read-only
    snapshot and the policy's answer, without the job store at all."""
    admissions = Admissions()
    found = preview(admissions, Registry(), Submission("alpha", SPEC, "algo", idempotency_key="k"))
    assert admissions.seen[0]["image"] == "r/algo:v2"  # sized on the resolved spec
    assert admissions.loads == [True]
    assert found.admissible_now and found.position == 0 and found.team == "alpha"
    assert found.job.id == A.PREVIEW_ID and found.job.submitted == 100.0  # submitted "now"
    assert found.job.replicas == 2 and found.job.demand == Res(2000, 2 * 2**30, 0)
    with pytest.raises(UnknownAlgorithm):
        preview(admissions, Registry(), Submission("alpha", SPEC, "nope"))
    problem = {"field": "resources.gpu", "message": "too many"}
    refusing = Admissions([problem])
    with pytest.raises(NeverFits) as raised:
        preview(refusing, Registry(), Submission("alpha", SPEC, "algo"))
    assert raised.value.problems == [problem] and refusing.loads == []


def test_a_dry_run_deeper_than_admission_looks_answers_its_place_only():
    found = preview(Admissions(depth=7), Registry(), Submission("alpha", SPEC, "algo"))
    assert found.position == 7 and found.global_position is None and found.eta_seconds is None
    assert found.reason == A.WAITING_FOR_TEAM_QUEUE and not found.admissible_now
    assert "7 jobs of its team are ahead of it" in found.message
