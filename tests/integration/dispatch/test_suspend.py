"""Suspend and resume of a running job through the real training operator: the watcher
suspends its PyTorchJob (the operator deletes its pods) and the job holds nothing; resumed, it
goes back to its queue, is admitted again, and dispatch resumes the same PyTorchJob, which runs
to the end. Never a second PyTorchJob. The same for a TrainJob (`spec.suspend`: Trainer v2
suspends its JobSet)."""

import pytest
import redis
from kubernetes import client

from tests.support.stack import job_body, unique, wait_until
from wrapper.redis import keys

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_a_running_job_suspended_and_resumed_finishes_on_its_same_pytorchjob(
    any_private_stack, kube_api
):
    stack = any_private_stack
    api = stack.start_all()
    r = redis.Redis.from_url(stack.redis_url)
    job_id = api.submit_ok("alpha", job_body(unique("pause"), workers=1,
                           annotations={"trainq.dev/sim-run-for": "8s"}))["id"]  # fmt: skip
    api.wait_status("alpha", job_id, {"running"}, 60)
    (before,) = stack.pytorchjobs("team-alpha", job_id)
    response = api.act("alpha", job_id, "suspend")
    assert response.status_code == 202 and response.json()["status"] == "suspended"
    assert not r.hexists(keys.RESERVATIONS, job_id)  # holds nothing from the answer on

    def suspended_pytorchjob():
        (obj,) = stack.pytorchjobs("team-alpha", job_id)
        return obj if stack.backend.suspended(obj) else None

    wait_until("the watcher to suspend the PyTorchJob", suspended_pytorchjob, 30)
    core = client.CoreV1Api(kube_api)
    selector = f"trainq.dev/job-id={job_id},trainq.dev/instance={stack.instance}"
    wait_until("its pods gone", lambda: not core.list_namespaced_pod(
        "team-alpha", label_selector=selector).items, 60)  # fmt: skip
    assert api.record("alpha", job_id)["status"] == "suspended"  # not mirrored meanwhile
    assert api.act("alpha", job_id, "resume").json()["status"] in ("queued", "dispatching",
                                                                   "created")  # fmt: skip
    final = api.wait_status("alpha", job_id, {"succeeded", "failed"}, 120)
    assert final["status"] == "succeeded" and final["suspensions"] == 1
    (after,) = stack.pytorchjobs("team-alpha", job_id)
    assert after["metadata"]["uid"] == before["metadata"]["uid"]  # the same PyTorchJob
    assert not stack.backend.suspended(after)
