"""After an apiserver outage, dispatch does not wait out the backoff each job's retries grew
while it lasted: the worker's first successful dispatch once the apiserver answers again ends
every waiting retry's backoff (wrapper.jobs.leases.retry_now), so the backlog goes at once."""

import time
from urllib.parse import urlparse

import pytest
import yaml

from tests.support.relay import Relay
from tests.support.stack import job_body, unique, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]
BACKOFF_BASE = 10.0  # the second attempt's failure means a 20 s wait before the third


def test_retries_go_at_once_when_the_apiserver_answers_again(private_redis, kubeconfig,
                                                              kube_api, tmp_path):  # fmt: skip
    from tests.support.stack import Stack

    stack = Stack(tmp_path / "stack", private_redis.url, kubeconfig,
                  dispatch={"backoff_base_seconds": BACKOFF_BASE})  # fmt: skip
    raw = yaml.safe_load(open(kubeconfig).read())
    server = urlparse(raw["clusters"][0]["cluster"]["server"])
    relay = Relay(server.hostname, server.port)
    try:
        raw["clusters"][0]["cluster"]["server"] = f"https://{server.hostname}:{relay.port}"
        relayed = tmp_path / "relayed.kubeconfig"
        relayed.write_text(yaml.safe_dump(raw))
        api = stack.start_api()
        stack.start_watcher()  # (direct: capacity for admission, and mirroring)
        stack.start_worker("w1", {"KUBECONFIG": str(relayed)})
        wait_until("the worker up", lambda: "serving teams" in stack.log("w1"), 30)
        relay.refuse()
        ids = [api.submit_ok("alpha", job_body(unique("outage")))["id"] for _ in range(3)]

        def second_attempt_failed(job_id):
            return (api.record("alpha", job_id)["message"] or "").startswith("attempt 2 failed")

        wait_until("every job's second attempt to fail",
                   lambda: all(second_attempt_failed(i) for i in ids), 60)  # fmt: skip
        relay.restore()
        restored = time.monotonic()
        api.submit_ok("alpha", job_body(unique("after")))  # dispatched at once: works again
        for job_id in ids:
            api.wait_status("alpha", job_id, ("created", "running", "succeeded"), 30)
        took = time.monotonic() - restored
        # Each was 20 s (2 x BACKOFF_BASE) from its next try when the apiserver came back.
        assert took < BACKOFF_BASE, f"the backlog took {took:.1f}s"
        assert "waiting retries go now" in stack.log("w1")
        for job_id in ids:
            assert len(stack.pytorchjobs("team-alpha", job_id)) == 1
    finally:
        stack.close()
        relay.close()
