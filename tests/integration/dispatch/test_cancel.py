"""Cancellation before a job has a running PyTorchJob (or TrainJob: each test runs on both
backends): while queued (no worker yet), and while dispatching (the worker paused by
TRAINQ_TEST_HOOK, then let go after the cancel)."""

import time

import pytest

from tests.support.stack import job_body, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_cancel_while_queued_is_immediate_and_never_dispatched(any_private_stack):
    stack = any_private_stack
    api = stack.start_api()
    stack.start_watcher()
    keep = api.submit_ok("alpha", job_body(unique("keep")))
    gone = api.submit_ok("alpha", job_body(unique("gone")))
    assert [j["id"] for j in api.queue("alpha").json()["jobs"]] == [keep["id"], gone["id"]]
    response = api.cancel("alpha", gone["id"])
    assert response.status_code == 202 and response.json()["status"] == "cancelled"
    assert [j["id"] for j in api.queue("alpha").json()["jobs"]] == [keep["id"]]
    stack.start_worker("w1")
    api.wait_status("alpha", keep["id"], "succeeded", 60)
    assert api.record("alpha", gone["id"])["status"] == "cancelled"
    assert stack.pytorchjobs("team-alpha", gone["id"]) == []


@pytest.mark.parametrize("point", ["before-create", "after-create"])
def test_cancel_while_dispatching_leaves_no_pytorchjob(any_private_stack, tmp_path, point):
    stack = any_private_stack
    api = stack.start_api()
    stack.start_watcher()
    marker = tmp_path / "paused"
    stack.start_worker("w1", {"TRAINQ_TEST_HOOK": f"{point}:{marker}"})
    rec = api.submit_ok("alpha", job_body(unique("dcx"), annotations={
        "trainq.dev/sim-run-for": "120s"}))  # fmt: skip
    wait_until("the dispatch to pause", marker.exists, 30)
    response = api.cancel("alpha", rec["id"])
    assert response.status_code == 202 and response.json()["status"] == "cancelling"
    if point == "before-create":
        # No PyTorchJob yet: the watcher's canceller finds nothing to delete.
        api.wait_status("alpha", rec["id"], "cancelled", 30)
    marker.unlink()  # let the worker go on: it creates the PyTorchJob after the cancel
    final = api.wait_status("alpha", rec["id"], "cancelled", 60)
    assert final["reason"] == "Cancelled"
    wait_until("no PyTorchJob left", lambda: stack.pytorchjobs("team-alpha", rec["id"]) == [], 60)
    time.sleep(2)  # and none comes back (no re-dispatch of a cancelled job)
    assert stack.pytorchjobs("team-alpha", rec["id"]) == []
    assert api.record("alpha", rec["id"])["status"] == "cancelled"
