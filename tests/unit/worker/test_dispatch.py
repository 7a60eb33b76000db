"""Dispatch's decisions without Redis or an apiserver (fake store and Kube): bounded retries
(a budget in seconds, a backoff that never overflows, RQ's job timeout retried, not failed),
403/404 as permanent with a message naming the fix, and what it builds re-checked against
the team's config before anything reaches the apiserver."""

import time

import pytest
from kubernetes.client.rest import ApiException
from rq.timeouts import JobTimeoutException

from queue_workers.kube.backends import PYTORCHJOB
from queue_workers.worker import dispatch as dispatch_module
from queue_workers.worker.dispatch import RETRYING_SINCE, Context, backoff, dispatch
from tests.unit.conftest import record as make_record
from wrapper.jobs.states import JobStatus
from wrapper.jobs.store import Transition


class FakeStore:
    def __init__(self, record: dict, counted: list[str] | None = None):
        self.record, self.counted = record, counted or []
        self.transitions: list[tuple] = []

    def counted_nodes(self, job_id):
        return list(self.counted)

    def get(self, job_id):
        return dict(self.record)

    def transition(self, job_id, target, fields=None, **kwargs):
        self.transitions.append((JobStatus(target), fields or {}))
        self.record.update(fields or {})
        self.record["status"] = JobStatus(target).value
        return Transition(True, "dispatching")


class FakeKube:
    def __init__(self, error: BaseException | None = None, exists: bool = False):
        self.error, self.exists, self.created, self.patched = error, exists, [], []

    def create_or_adopt(self, namespace, body, record, instance, backend=PYTORCHJOB):
        if self.error is not None:
            raise self.error
        if self.exists:
            return True
        self.created.append(body)
        return False

    def set_suspended(self, namespace, name, suspended, body=None, backend=PYTORCHJOB):
        # Kept as (suspended, replica type -> the affinity the merge patch sets)
        replicas = backend.suspend_patch(suspended, body)["spec"].get("pytorchReplicaSpecs")
        affinity = {t: r["template"]["spec"]["affinity"] for t, r in (replicas or {}).items()}
        self.patched.append((suspended, affinity or None))
        return True


def run(config, record, error=None, counted=None, exists=False):
    store = FakeStore({**record, "attempts": record.get("attempts", 1)}, counted)
    kube = FakeKube(error, exists)
    outcome = dispatch(Context(config, store, kube), record["id"])
    return outcome, store, kube


def _pinned(template: dict) -> list[str] | None:
    affinity = template["spec"].get("affinity")
    if affinity is None:
        return None
    terms = affinity["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][
        "nodeSelectorTerms"]  # fmt: skip
    # One node per term (ORed): a node field selector takes a single value.
    values = [v for t in terms for f in t["matchFields"] for v in f["values"]]
    assert all(len(f["values"]) == 1 for t in terms for f in t["matchFields"])
    return values


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


def test_replicas_are_pinned_to_the_nodes_admission_counted(config):
    """Master on the first counted node, the Workers (one template) on the rest as a set."""
    outcome, _, kube = run(config, make_record(workers=3), counted=["n1", "n2", "n2", "n3"])
    assert outcome == "created"
    replicas = kube.created[0]["spec"]["pytorchReplicaSpecs"]
    assert _pinned(replicas["Master"]["template"]) == ["n1"]
    assert _pinned(replicas["Worker"]["template"]) == ["n2", "n3"]


def test_counted_in_sums_only_means_no_pin(config):
    _, _, kube = run(config, make_record(workers=1), counted=[])
    replicas = kube.created[0]["spec"]["pytorchReplicaSpecs"]
    assert _pinned(replicas["Master"]["template"]) is None
    assert _pinned(replicas["Worker"]["template"]) is None


def test_a_resumed_pytorchjob_is_pinned_again_to_this_admission_s_nodes(config):
    """Re-admitted after its pods were not ready: the suspended PyTorchJob is resumed with
    the new placement (a pin of an earlier admission would keep its pods off their room)."""
    outcome, _, kube = run(config, make_record(workers=1), counted=["n7", "n8"], exists=True)
    assert outcome == "created" and kube.created == []
    ((suspended, affinity),) = kube.patched
    assert suspended is False and set(affinity) == {"Master", "Worker"}
    assert _pinned({"spec": {"affinity": affinity["Master"]}}) == ["n7"]
    assert _pinned({"spec": {"affinity": affinity["Worker"]}}) == ["n8"]
    _, _, kube = run(config, make_record(workers=0), counted=[], exists=True)
    assert kube.patched == [(False, {"Master": None})]  # an old pin is removed


def test_every_replica_gets_the_configured_grace_period(config):
    """Time from SIGTERM to SIGKILL to write a checkpoint: dispatch.termination_grace_seconds."""
    dispatch_settings = config.dispatch.model_copy(update={"termination_grace_seconds": 90})
    _, _, kube = run(config.model_copy(update={"dispatch": dispatch_settings}),
                     make_record(workers=1))  # fmt: skip
    for replica in kube.created[0]["spec"]["pytorchReplicaSpecs"].values():
        assert replica["template"]["spec"]["terminationGracePeriodSeconds"] == 90


def test_a_team_with_a_checkpoint_claim_gets_it_mounted(config):
    """The team's claim at dispatch.checkpoint_path; no volume for a team without one."""
    dispatch_settings = config.dispatch.model_copy(update={"checkpoint_path": "/ckpt"})
    configured = config.model_copy(update={"dispatch": dispatch_settings})
    _, _, kube = run(configured, make_record(team="local", workers=1))
    for replica in kube.created[0]["spec"]["pytorchReplicaSpecs"].values():
        pod = replica["template"]["spec"]
        (volume,) = pod["volumes"]
        assert volume["persistentVolumeClaim"] == {"claimName": "trainq-checkpoints"}
        assert pod["containers"][0]["volumeMounts"][0]["mountPath"] == "/ckpt"
    _, _, kube = run(configured, make_record(team="alpha", workers=1))
    for replica in kube.created[0]["spec"]["pytorchReplicaSpecs"].values():
        assert "volumes" not in replica["template"]["spec"]
