"""Borrowing end to end (real processes, Redis and control plane): two teams whose queued jobs
both need to borrow do not wait for each other's unused quota (docs/admission.md, "Borrowing").
"""

import pytest

from tests.support import admission_stack as adm
from tests.support.stack import unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

ADMITTED = {"dispatching", "created", "running", "succeeded"}


def test_two_teams_that_both_must_borrow_do_not_deadlock(
    tmp_path, kubeconfig, kube_api, private_redis
):
    """8 gpus (one node's worth); alpha and beta each have a quota of 4 gpus and may borrow 4.
    alpha queues 8 gpus, beta 6: neither fits its quota, so neither holds its quota back from
    the other; the first in fair-share order borrows, and the other runs after it."""
    borrowing = {"quota": adm.quota(4), "borrowing_limit": {"gpu": 4}}
    teams = {"alpha": borrowing, "beta": borrowing}
    stack = adm.start(tmp_path, private_redis.url, kubeconfig, teams, cap_gpu=8, workers=0)
    try:
        api = stack.api
        alpha = api.submit_ok("alpha", adm.gpu_body(unique("big"), "2s", gpu=8))["id"]
        beta = api.submit_ok("beta", adm.gpu_body(unique("wide"), "2s", gpu=6))["id"]
        stack.start_worker("w0")  # (both queued before any decision)
        jobs = (("alpha", alpha), ("beta", beta))

        def first():
            return next((j for j in jobs if api.record(*j)["status"] in ADMITTED), None)

        # Before the fix both waited forever (WaitingForFairShare) on the empty node.
        admitted = wait_until("one of the two jobs to be admitted", first, 30)
        (other,) = [j for j in jobs if j != admitted]
        waiting = api.record(*other)
        if waiting["status"] not in ADMITTED:  # (the first may have ended already)
            assert waiting["pending_reason"] != "WaitingForFairShare", waiting
        for team, job_id in jobs:
            record = api.wait_status(team, job_id, {"succeeded"}, 90)
            assert record["status"] == "succeeded", record
        assert api.record("alpha", alpha)["admitted_at"] != api.record("beta", beta)["admitted_at"]
    finally:
        stack.close()
