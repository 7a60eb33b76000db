"""The one submission use case, with its collaborators replaced by recorders: what each HTTP
surface relies on (algorithm fixed to its current version, never-fits refused before anything
is written, the surface's extra fields kept, the Idempotency-Key digest of the body)."""

import pytest

from wrapper.jobs.store import body_digest
from wrapper.jobs.submission import NeverFits, Submission, UnknownAlgorithm, submit

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
    def __init__(self, problems=()):
        self.problems, self.seen = list(problems), []

    def never_fits(self, team, spec):
        self.seen.append(spec)
        return self.problems


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
