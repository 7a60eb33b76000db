"""Creation errors: a transient one (apiserver unreachable) keeps the job `dispatching` and is
retried with backoff; a permanent one (the apiserver refuses the object) fails the job with the
apiserver's message. Also: a team namespace that does not exist is created on dispatch."""

import secrets
import signal

import pytest
import redis
import yaml
from kubernetes import client

from tests.support.stack import job_body, unique, wait_until
from wrapper.jobs import storage
from wrapper.redis import keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_transient_error_keeps_dispatching_then_succeeds(private_stack, kubeconfig, tmp_path):
    stack = private_stack
    broken = yaml.safe_load(open(kubeconfig).read())
    for cluster in broken["clusters"]:
        cluster["cluster"]["server"] = "https://127.0.0.1:9"  # nothing listens there
    broken_path = tmp_path / "broken-kubeconfig"
    broken_path.write_text(yaml.safe_dump(broken))
    api = stack.start_api()
    stack.start_watcher()  # caches the cluster capacity that admission needs
    stack.start_worker("offline", {"KUBECONFIG": str(broken_path)})
    rec = api.submit_ok("alpha", job_body(unique("flaky")))

    def retried_twice():
        r = api.record("alpha", rec["id"])
        return r if (r["message"] or "").startswith("attempt 2 failed") else None

    state = wait_until("a second failed attempt", retried_twice, 30)
    assert state["status"] == "dispatching" and state["reason"] == "DispatchRetrying"
    assert "retrying in" in state["message"]
    assert stack.pytorchjobs("team-alpha", rec["id"]) == []
    stack.kill("offline", signal.SIGTERM)
    stack.start_worker("online")
    api.wait_status("alpha", rec["id"], "succeeded", 60)
    assert len(stack.pytorchjobs("team-alpha", rec["id"])) == 1


@pytest.fixture
def rejecting_policy(kube_api):
    """A ValidatingAdmissionPolicy that refuses PyTorchJobs carrying a label with a unique
    value: a real apiserver rejection of an object trainq's own validation accepts."""
    token = "t" + secrets.token_hex(4)
    admission = client.AdmissionregistrationV1Api(kube_api)
    name = f"trainq-test-reject-{token}"
    admission.create_validating_admission_policy({
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": ["kubeflow.org"], "apiVersions": ["v1"],
                "operations": ["CREATE"], "resources": ["pytorchjobs"]}]},
            "validations": [{
                "expression": f"!has(object.metadata.labels) || "
                              f"!('reject-me' in object.metadata.labels) || "
                              f"object.metadata.labels['reject-me'] != '{token}'",
                "message": f"rejected by test policy {token}"}],
        },
    })  # fmt: skip
    admission.create_validating_admission_policy_binding(
        {
            "metadata": {"name": name},
            "spec": {"policyName": name, "validationActions": ["Deny"]},
        }
    )
    custom = client.CustomObjectsApi(kube_api)
    probe = {
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
        "metadata": {"name": f"probe-{token}", "labels": {"reject-me": token}},
        "spec": {"pytorchReplicaSpecs": {"Master": {"replicas": 1, "template": {"spec": {
            "containers": [{"name": "pytorch", "image": "docker.io/library/busybox"}]}}}}},
    }  # fmt: skip

    def enforced():
        try:
            custom.create_namespaced_custom_object(
                "kubeflow.org", "v1", "team-alpha", "pytorchjobs", probe, dry_run="All"
            )
            return False
        except client.ApiException as exc:
            return exc.status in (400, 422) and token in (exc.body or "")

    wait_until("the admission policy to be enforced", enforced, 60, interval=0.5)
    yield token
    admission.delete_validating_admission_policy_binding(name)
    admission.delete_validating_admission_policy(name)


def test_permanent_error_fails_the_job_with_the_apiserver_message(stack, rejecting_policy):
    api = stack.api
    body = job_body(unique("refused"), labels={"reject-me": rejecting_policy})
    rec = api.submit_ok("alpha", body)
    final = api.wait_status("alpha", rec["id"], {"failed", "created", "running"}, 30)
    assert final["status"] == "failed"
    assert final["reason"] == "DispatchFailed"
    assert f"rejected by test policy {rejecting_policy}" in final["message"]
    assert final["finished_at"]
    assert stack.pytorchjobs("team-alpha", rec["id"]) == []


def test_missing_team_namespace_is_created(private_redis, kubeconfig, kube_api, tmp_path):
    from tests.support.stack import LOCAL_CONFIG, Stack

    namespace = f"tq-test-{secrets.token_hex(3)}"
    teams = yaml.safe_load(LOCAL_CONFIG.read_text())["teams"]
    teams[0]["namespace"] = namespace
    stack = Stack(tmp_path / "stack", private_redis.url, kubeconfig, teams=teams)
    core = client.CoreV1Api(kube_api)
    try:
        api = stack.start_all()
        rec = api.submit_ok("alpha", job_body(unique("ns")))
        final = api.wait_status("alpha", rec["id"], "succeeded", 90)
        assert final["pytorchjob"]["namespace"] == namespace
        assert core.read_namespace(namespace).metadata.labels["app.kubernetes.io/managed-by"] == (
            "trainq"
        )
    finally:
        stack.close()
        core.delete_namespace(namespace)


def _leftover(kube_api, instance: str, job_id: int) -> None:
    labels = {"app.kubernetes.io/managed-by": "trainq", "trainq.dev/instance": instance,
              "trainq.dev/team": "alpha", "trainq.dev/job-id": str(job_id)}  # fmt: skip
    leftover = {
        "apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
        "metadata": {"name": f"{instance}-{job_id}", "labels": labels,
                     "annotations": {"trainq.dev/job-uid": "from-an-earlier-life"}},
        "spec": {"pytorchReplicaSpecs": {"Master": {"replicas": 1, "template": {
            "metadata": {"annotations": {"trainq.dev/sim-run-for": "600s"}},
            "spec": {"containers": [{"name": "pytorch", "image": "docker.io/library/busybox"}]},
        }}}},
    }  # fmt: skip
    client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        "kubeflow.org", "v1", "team-alpha", "pytorchjobs", leftover
    )


def test_after_redis_lost_its_data_new_jobs_get_ids_above_the_leftovers(private_stack, kube_api):
    """Redis wiped while PyTorchJobs remain: the watcher's list seeds the id counter above
    them, so the next job neither collides nor fails, and the leftovers are reported."""
    stack = private_stack
    _leftover(kube_api, stack.instance, 1)
    _leftover(kube_api, stack.instance, 2)
    api = stack.start_all()
    r = redis.Redis.from_url(stack.redis_url)
    wait_until("the id counter to be seeded", lambda: r.get(keys.JOB_ID_COUNTER) == b"2", 30)
    # The list seeds the counter first, then reports the leftovers: wait for the report.
    expected = [f"team-alpha/{stack.instance}-{i}" for i in (1, 2)]
    wait_until("the leftovers reported", lambda: sorted(storage.leftovers(r)) == expected, 30)
    wait_until("the leftovers logged", lambda: "have no job record" in stack.log("watcher"), 10)
    rec = api.submit_ok("alpha", job_body(unique("reborn")))
    assert rec["id"] == 3
    assert api.wait_status("alpha", 3, "succeeded", 60)["reason"] != "DispatchFailed"


def test_a_leftover_pytorchjob_of_an_earlier_job_is_never_adopted(private_stack, kube_api):
    """A job that still meets a leftover's name (submitted before any watcher listed, here:
    the counter set back by hand) is failed, naming the leftover; never adopted."""
    stack = private_stack
    _leftover(kube_api, stack.instance, 1)
    api = stack.start_all()
    r = redis.Redis.from_url(stack.redis_url)
    wait_until("the id counter to be seeded", lambda: r.get(keys.JOB_ID_COUNTER) == b"1", 30)
    r.delete(keys.JOB_ID_COUNTER)
    rec = api.submit_ok("alpha", job_body(unique("reborn")))
    assert rec["id"] == 1
    final = api.wait_status("alpha", 1, {"failed", "created", "running", "succeeded"}, 30)
    assert final["status"] == "failed" and final["reason"] == "DispatchFailed"
    assert "does not belong to this job" in final["message"]
    (obj,) = stack.pytorchjobs("team-alpha", 1)
    assert obj["metadata"]["annotations"]["trainq.dev/job-uid"] == "from-an-earlier-life"
