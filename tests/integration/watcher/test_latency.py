"""The watcher mirrors a PyTorchJob's status change into the job record within 1 s (the
issue's deadline). The clock starts when this test itself first sees the change in the
cluster, which is no earlier than the watcher's own notification."""

import time

import pytest

from tests.support.stack import job_body, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def _condition_true(stack, job_id, ctype):
    items = stack.pytorchjobs("team-alpha", job_id)
    conds = ((items[0].get("status") or {}).get("conditions") or []) if items else []
    return any(c["type"] == ctype and c["status"] == "True" for c in conds)


@pytest.mark.parametrize(("ctype", "status"), [("Running", "running"), ("Succeeded", "succeeded")])
def test_status_change_reaches_the_record_within_a_second(stack, ctype, status):
    api = stack.api
    rec = api.submit_ok("alpha", job_body(unique("lat"), annotations={
        "trainq.dev/sim-run-for": "3s"}))  # fmt: skip
    wait_until(f"{ctype} in the cluster", lambda: _condition_true(stack, rec["id"], ctype), 60,
               interval=0.05)  # fmt: skip
    seen_at = time.monotonic()
    api.wait_status("alpha", rec["id"], {status, "succeeded"}, timeout=1.0)
    assert time.monotonic() - seen_at <= 1.0
