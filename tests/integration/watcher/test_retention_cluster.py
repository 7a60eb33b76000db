"""Retention end to end: with `retention.pytorchjob_seconds: 0` the watcher deletes a finished
job's PyTorchJob from the cluster, and the record keeps its final status."""

import pytest

from tests.support.stack import Stack, job_body, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_a_finished_pytorchjob_is_deleted_and_its_status_kept(private_redis, kubeconfig,
                                                              kube_api, tmp_path):  # fmt: skip
    stack = Stack(tmp_path / "stack", private_redis.url, kubeconfig,
                  retention={"finished_seconds": 3600, "pytorchjob_seconds": 0})  # fmt: skip
    try:
        api = stack.start_all()
        rec = api.submit_ok("alpha", job_body(unique("kept")))
        done = api.wait_status("alpha", rec["id"], "succeeded", 90)
        wait_until("the finished PyTorchJob to be deleted",
                   lambda: stack.pytorchjobs("team-alpha", rec["id"]) == [], 40)  # fmt: skip
        after = api.record("alpha", rec["id"])
        assert after["status"] == "succeeded" and after["reason"] == done["reason"]
        # The replica counts may have settled after the job's end (the operator updates a
        # worker's count after the Succeeded condition): what is kept is the last mirrored.
        assert after["replicas"]["Master"]["succeeded"] == 1
        assert after["finished_at"] == done["finished_at"]
    finally:
        stack.close()
