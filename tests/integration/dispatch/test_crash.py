"""A worker killed with SIGKILL in the middle of a dispatch: the job still ends with exactly
one PyTorchJob within 60 s (the dispatch lease expires, another worker re-dispatches and adopts
or creates it). The kill point is made deterministic by the TRAINQ_TEST_HOOK fault-injection
hook in queue_workers.worker.dispatch: the hooked worker writes a marker file at the chosen
point and waits there until the test SIGKILLs it."""

import signal
import time

import pytest

from tests.support.stack import job_body, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
DEADLINE_S = 60


@pytest.mark.parametrize("point", ["after-create", "before-create"])
def test_sigkill_mid_dispatch_leaves_exactly_one_pytorchjob(private_stack, tmp_path, point):
    stack = private_stack
    api = stack.start_api()
    marker = tmp_path / "paused"
    stack.start_worker("doomed", {"TRAINQ_TEST_HOOK": f"{point}:{marker}"})
    rec = api.submit_ok("alpha", job_body(unique("crash"), workers=1))
    wait_until("the worker to pause mid-dispatch", marker.exists, 30)
    assert int(marker.read_text()) == rec["id"]
    assert api.record("alpha", rec["id"])["status"] == "dispatching"
    expected_before = 1 if point == "after-create" else 0
    assert len(stack.pytorchjobs("team-alpha", rec["id"])) == expected_before

    stack.kill("doomed", signal.SIGKILL)
    killed_at = time.monotonic()
    # Only a healthy worker takes over (no watcher yet, which would also adopt a PyTorchJob it
    # sees): the expired dispatch lease alone must bring the job back.
    stack.start_worker("rescuer")
    final = api.wait_status("alpha", rec["id"], "created", DEADLINE_S)
    assert time.monotonic() - killed_at < DEADLINE_S
    assert final["pytorchjob"]["name"] == f"{stack.instance}-{rec['id']}"
    assert len(stack.pytorchjobs("team-alpha", rec["id"])) == 1
    adopted = "adopting existing PyTorchJob" in stack.log("rescuer")
    assert adopted == (point == "after-create")
    # ... and it runs to completion with that one PyTorchJob.
    stack.start_watcher()
    api.wait_status("alpha", rec["id"], "succeeded", 60)
    assert len(stack.pytorchjobs("team-alpha", rec["id"])) == 1
