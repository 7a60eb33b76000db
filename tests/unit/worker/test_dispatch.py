"""Dispatch's decisions without Redis or an apiserver (fake store and Kube): bounded retries
(a budget in seconds, a backoff that never overflows, RQ's job timeout retried, not failed),
403/404 as permanent with a message naming the fix, and what it builds re-checked against
the team's config before anything reaches the apiserver."""

import time

import pytest
from kubernetes.client.rest import ApiException
from rq.timeouts import JobTimeoutException

from queue_workers.worker import dispatch as dispatch_module
from queue_workers.worker.dispatch import RETRYING_SINCE, Context, backoff, dispatch
from tests.unit.conftest import record as make_record
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import Transition


class FakeStore:
    def __init__(self, record: dict):
        self.record = record
        self.transitions: list[tuple] = []

    def get(self, job_id):
        return dict(self.record)

    def transition(self, job_id, target, fields=None, **kwargs):
        self.transitions.append((JobStatus(target), fields or {}))
        self.record.update(fields or {})
        self.record["status"] = JobStatus(target).value
        return Transition(True, "dispatching")


class FakeKube:
    def __init__(self, error: BaseException | None = None):
        self.error, self.created = error, []

    def create_or_adopt(self, namespace, body, record, instance):
        if self.error is not None:
            raise self.error
        self.created.append(body)
        return False


def run(config, record, error=None):
    store, kube = FakeStore({**record, "attempts": record.get("attempts", 1)}), FakeKube(error)
    outcome = dispatch(Context(config, store, kube), record["id"])
    return outcome, store, kube


def test_backoff_doubles_to_its_cap_and_never_overflows():
    assert [backoff(2, 60, a) for a in (1, 2, 3, 6, 7)] == [2, 4, 8, 60, 60]
    assert backoff(2, 60, 5000) == 60  # 2 ** 4999 as a float would overflow


def test_a_transient_error_retries_and_remembers_when_retrying_began(config):
    outcome, store, _ = run(config, make_record(), ApiException(status=503, reason="Down"))
    assert outcome == "retrying"
    status, fields = store.transitions[-1]
    assert status == JobStatus.DISPATCHING and fields["reason"] == "DispatchRetrying"
    assert abs(fields[RETRYING_SINCE] - time.time()) < 5


def test_the_retry_budget_ends_in_a_failure_naming_it_and_the_last_error(config):
    since = time.time() - config.dispatch.retry_budget_seconds - 1
    rec = {**make_record(), RETRYING_SINCE: since, "attempts": 1234}
    outcome, store, _ = run(config, rec, ApiException(status=503, reason="Down"))
    assert outcome == "failed"
    status, fields = store.transitions[-1]
    assert status == JobStatus.FAILED and fields["reason"] == "DispatchFailed"
    assert "gave up after 1234 attempts" in fields["message"]
    assert "dispatch.retry_budget_seconds" in fields["message"] and "503" in fields["message"]


def test_rq_job_timeout_is_retried_not_failed(config):
    outcome, store, _ = run(config, make_record(), JobTimeoutException("Task exceeded 120s"))
    assert outcome == "retrying"
    assert "no answer in time" in store.transitions[-1][1]["message"]


@pytest.mark.parametrize(
    ("status", "fix"),
    [(404, "kubectl create namespace team-alpha"), (403, "grant it create/get/patch/delete")],
)
def test_403_and_404_are_permanent_with_the_fix_named(config, status, fix):
    outcome, store, _ = run(config, make_record(), ApiException(status=status, reason="No"))
    assert outcome == "failed"
    assert fix in store.transitions[-1][1]["message"]


def test_an_exhausted_resource_quota_403_is_retried(config):
    exc = ApiException(status=403, reason="Forbidden")
    exc.body = '{"message": "pytorchjobs is forbidden: exceeded quota: q"}'
    assert run(config, make_record(), exc)[0] == "retrying"


@pytest.mark.parametrize(
    ("overrides", "words"),
    [({"annotations": {"k8s.v1.cni.cncf.io/networks": "other/net"}}, "annotation"),
     ({"labels": {"kueue.x-k8s.io/queue-name": "q"}}, "label"),
     ({"labels": {"bad\n": "x"}}, "label"),
     ({"image": "evil.example.com/miner:1"}, "images.allowed_prefixes")],
)  # fmt: skip
def test_a_record_that_breaks_the_team_config_is_refused_before_the_apiserver(
    config, overrides, words
):
    outcome, store, kube = run(config, make_record(**overrides))
    assert outcome == "failed" and kube.created == []
    message = store.transitions[-1][1]["message"]
    assert "does not pass team alpha's config" in message and words in message


def test_a_record_that_passes_is_created(config):
    outcome, store, kube = run(config, make_record())
    assert outcome == "created" and len(kube.created) == 1
    assert store.transitions[-1][1][RETRYING_SINCE] is None


def test_the_namespace_is_the_team_config_s_not_the_record_s(config, monkeypatch):
    """Even a builder bug (or a record naming another place) cannot create elsewhere."""
    real = dispatch_module.pytorchjob.build

    def elsewhere(*args, **kwargs):
        body = real(*args, **kwargs)
        body["metadata"]["namespace"] = "kube-system"
        return body

    monkeypatch.setattr(dispatch_module.pytorchjob, "build", elsewhere)
    outcome, store, kube = run(config, make_record())
    assert outcome == "failed" and kube.created == []
    assert "namespace 'kube-system'" in store.transitions[-1][1]["message"]
