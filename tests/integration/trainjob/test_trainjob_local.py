"""The TrainJob backend against the real Kubeflow Trainer v2 and JobSet controllers of the local
control plane (started by `make cluster-up` unless TRAINQ_TRAINER_V2=0; skipped
otherwise): a TrainJob built by `queue_workers.kube.trainjob` from a job record is admitted
(through the trainer's and JobSet's webhooks), runs as a JobSet whose pods land on the kwok
nodes with trainq's labels, annotations and pod security, reaches a terminal condition, and
`trainjob_status.observe` reads it back as the record a PyTorchJob's run would give."""

import secrets
import time

import pytest
from kubernetes import client
from kubernetes.client.rest import ApiException

from queue_workers.kube import pytorchjob, trainjob
from queue_workers.kube.trainjob_status import observe
from tests.support import LOCAL_CONFIG
from tests.support import trainer_v2 as v2
from tests.unit.conftest import record
from wrapper.config import load_config
from wrapper.jobs.states import JobStatus

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

TIMEOUT = 120


@pytest.fixture(scope="module")
def trainer_v2(request):
    """The kube ApiClient, once the Trainer v2 controllers are known to run; else a skip."""
    v2.require()
    api = request.getfixturevalue("kube_api")
    custom = client.CustomObjectsApi(api)
    try:
        runtimes = "clustertrainingruntimes"
        custom.get_cluster_custom_object(
            trainjob.GROUP, trainjob.VERSION, runtimes, trainjob.DEFAULT_RUNTIME
        )
    except ApiException as exc:
        pytest.skip(f"no ClusterTrainingRuntime {trainjob.DEFAULT_RUNTIME} ({exc.status})")
    return api


@pytest.fixture
def namespace(trainer_v2):
    core = client.CoreV1Api(trainer_v2)
    name = f"tj-{secrets.token_hex(4)}"
    core.create_namespace({"metadata": {"name": name,
                                        "labels": pytorchjob.namespace_labels(False)}})  # fmt: skip
    yield name
    core.delete_namespace(name)


def _wait(what: str, probe, timeout: float = TIMEOUT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = probe()
        if got:
            return got
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def _wait_for(what: str, fetch, ok, timeout: float = TIMEOUT):
    """fetch() once ok(fetch()) holds."""

    def probe():
        got = fetch()
        return got if ok(got) else None

    return _wait(what, probe, timeout)


def _terminal(obj: dict) -> bool:
    return any(c.get("type") in ("Complete", "Failed") and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])  # fmt: skip


def test_a_trainjob_runs_to_completion_on_the_kwok_nodes(trainer_v2, namespace):
    custom, core = client.CustomObjectsApi(trainer_v2), client.CoreV1Api(trainer_v2)
    instance = f"tj{secrets.token_hex(3)}"
    rec = record(job_id=1, workers=1, resources={"cpu": "1", "memory": "1Gi", "gpu": 0},
                 annotations={"trainq.dev/sim-run-for": "2s"}, max_runtime_seconds=600)  # fmt: skip
    placement = load_config(LOCAL_CONFIG).team("alpha").pod_placement()
    body = trainjob.build(rec, namespace, instance, placement)
    assert trainjob.problems(body) == []
    name = body["metadata"]["name"]
    custom.create_namespaced_custom_object(trainjob.GROUP, trainjob.VERSION, namespace,
                                           trainjob.PLURAL, body)  # fmt: skip

    def get(plural=trainjob.PLURAL, group=trainjob.GROUP, version=trainjob.VERSION):
        return custom.get_namespaced_custom_object(group, version, namespace, plural, name)

    # The trainer controller creates a JobSet of the same name, whose Jobs create the pods.
    _wait("the JobSet", lambda: _try(lambda: get("jobsets", "jobset.x-k8s.io", "v1alpha2")))
    selector = trainjob.pod_selector(name)

    def pods() -> list:
        return core.list_namespaced_pod(namespace, label_selector=selector).items

    _wait("2 pods", lambda: len(pods()) >= 2)
    obj = _wait_for("a terminal condition", get, _terminal)
    listed = [trainer_v2.sanitize_for_serialization(p) for p in pods()]
    assert len(listed) == 2
    for p in listed:
        assert p["spec"]["nodeName"].startswith("kwok-node-"), p["spec"].get("nodeName")
        labels = p["metadata"]["labels"]
        assert labels["trainq.dev/job-id"] == "1" and labels["trainq.dev/instance"] == instance
        assert p["metadata"]["annotations"]["trainq.dev/sim-run-for"] == "2s"
        assert p["spec"]["securityContext"]["runAsNonRoot"] is True
        [container] = p["spec"]["containers"]
        assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TRAINQ_JOB_ID"] == "1" and env["PET_NNODES"] == "2"
        assert env["PET_MASTER_ADDR"] == f"{name}-node-0-0.{name}"

    obs = observe(obj, pods=listed)
    assert obs.status == JobStatus.SUCCEEDED, obj["status"]
    done = {"active": 0, "succeeded": 1, "failed": 0}
    assert obs.fields["replicas"] == {"Master": done, "Worker": done}
    assert obs.fields["pytorchjob"] == {"namespace": namespace, "name": name}
    assert obs.fields["finished_at"] and obs.fields["started_at"]
    assert obs.fields["reason"]  # JobSet's completion reason, copied by the trainer
    # Without the pods, the JobSet's replicated-job counts give the same per-role counts.
    assert observe(obj).fields["replicas"] == obs.fields["replicas"]
    assert pytorchjob.is_ours(obj, instance, rec)


def test_suspend_and_resume_through_spec_suspend(trainer_v2, namespace):
    """What cancel / suspend / resume will use: the TrainJob's spec.suspend (merge patch)."""
    custom, core = client.CustomObjectsApi(trainer_v2), client.CoreV1Api(trainer_v2)
    rec = record(job_id=3, workers=1, resources={"cpu": "1", "memory": "1Gi", "gpu": 0},
                 annotations={"trainq.dev/sim-run-for": "60s"})  # fmt: skip
    body = trainjob.build(rec, namespace, "tjsus", {})
    name = body["metadata"]["name"]
    args = (trainjob.GROUP, trainjob.VERSION, namespace, trainjob.PLURAL)
    custom.create_namespaced_custom_object(*args, body)
    selector = trainjob.pod_selector(name)

    def live_pods() -> list:
        items = core.list_namespaced_pod(namespace, label_selector=selector).items
        return [p for p in items if p.status.phase in ("Pending", "Running")
                and not p.metadata.deletion_timestamp]  # fmt: skip

    finished = lambda: _terminal(custom.get_namespaced_custom_object(*args, name))  # noqa: E731
    _wait("2 running pods", lambda: len(live_pods()) == 2 or finished())
    if finished():
        pytest.skip("kwok finished the pods at once: it runs without k8s/local/kwok-stages.yaml's "
                    "jobset-pod stages (restart the control plane to load them)")  # fmt: skip
    custom.patch_namespaced_custom_object(*args, name, trainjob.suspend_patch(True))

    def suspended():
        obj = custom.get_namespaced_custom_object(*args, name)
        return obj if not live_pods() and observe(obj).fields["reason"] == "Suspended" else None

    obj = _wait("the pods gone and Suspended", suspended)
    assert observe(obj).status == JobStatus.CREATED
    custom.patch_namespaced_custom_object(*args, name, trainjob.suspend_patch(False))
    _wait("2 running pods again", lambda: len(live_pods()) == 2)
    running = lambda o: observe(o).status == JobStatus.RUNNING  # noqa: E731
    obj = _wait_for(
        "the TrainJob running", lambda: custom.get_namespaced_custom_object(*args, name), running
    )
    assert observe(obj).fields["reason"] == "Resumed"


def test_the_trainers_webhook_refuses_what_problems_flags(trainer_v2, namespace):
    body = trainjob.build(record(job_id=2), namespace, "tjbad")
    body["spec"]["trainer"]["env"].append({"name": "PET_NNODES", "value": "9"})
    assert trainjob.problems(body)
    with pytest.raises(ApiException) as refused:
        client.CustomObjectsApi(trainer_v2).create_namespaced_custom_object(
            trainjob.GROUP, trainjob.VERSION, namespace, trainjob.PLURAL, body, dry_run="All"
        )
    # A webhook's denial (controller-runtime answers 403 with the reasons).
    assert refused.value.status == 403, refused.value.body
    assert "validator.trainjob.trainer.kubeflow.org" in refused.value.body
    assert "PET_NNODES" in refused.value.body


def _try(fn):
    try:
        return fn()
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise
