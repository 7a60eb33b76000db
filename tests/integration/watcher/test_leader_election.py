"""Leader election among watchers (queue_workers.watcher.leader) on the real control plane: of
two watchers one leads and the other stands by; SIGKILLed, the leader is replaced and
PyTorchJob changes are mirrored again within the goal (< 15 s, measured); a leader whose Lease
is taken, or that cannot reach the apiserver, exits before anyone else may lead; SIGTERM hands
the Lease to the standby at once. Default timings (lease 8 s, renew 6 s, retry 1 s)."""

import signal
import time
from urllib.parse import urlparse

import pytest
import yaml
from kubernetes import client

from queue_workers.watcher.leader import lease_name, lease_namespace
from queue_workers.watcher.process import LOST_LEADERSHIP
from tests.support.relay import Relay
from tests.support.stack import job_body, unique, wait_until
from wrapper.clock import epoch
from wrapper.config import WatcherSettings

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

FAILOVER_GOAL_SECONDS = 15
TIMINGS = WatcherSettings()
LONG = {"trainq.dev/sim-run-for": "600s"}


def holder_pid(stack) -> int | None:
    """The pid in the Lease's holderIdentity (`<hostname>-<pid>-<random>`)."""
    holder = ((stack.lease() or {}).get("spec") or {}).get("holderIdentity") or ""
    return int(holder.rsplit("-", 2)[1]) if holder else None


def leader_and_standby(stack):
    leader = stack.start_watcher("watcher-a")
    wait_until("watcher-a to lead", lambda: holder_pid(stack) == leader.pid, 15, 0.05)
    standby = stack.start_watcher("watcher-b")
    wait_until("watcher-b to stand by", lambda: "standing by" in stack.log("watcher-b"), 15)
    return leader, standby


def test_standby_takes_over_a_killed_leader_within_the_goal(private_stack):
    stack = private_stack
    api = stack.start_api()
    stack.start_worker("w1")
    _, standby = leader_and_standby(stack)
    kept = api.submit_ok("alpha", job_body(unique("kept"), annotations=LONG))
    doomed = api.submit_ok("alpha", job_body(unique("doomed"), annotations=LONG))
    api.wait_status("alpha", kept["id"], "running", 60)
    ref = api.wait_status("alpha", doomed["id"], "running", 60)["pytorchjob"]
    assert "queue_workers.watcher.mirror" in stack.log("watcher-a")
    assert "queue_workers.watcher.mirror" not in stack.log("watcher-b"), "the standby acted"

    killed = time.monotonic()
    stack.kill("watcher-a", signal.SIGKILL)
    # A change no watcher sees: the PyTorchJob deleted behind trainq's back.
    stack.custom_api().delete_namespaced_custom_object(
        "kubeflow.org", "v1", ref["namespace"], "pytorchjobs", ref["name"],
        body=client.V1DeleteOptions(propagation_policy="Background"),
    )  # fmt: skip

    def mirrored():
        record = api.record("alpha", doomed["id"])
        return record if record["status"] == "cancelled" else None

    final = wait_until("the new leader to mirror the deletion", mirrored, 30, 0.05)
    failover = time.monotonic() - killed
    print(f"\nwatcher failover (leader SIGKILL -> change mirrored): {failover:.2f} s")
    assert final["reason"] == "PyTorchJobDeleted"
    assert failover < FAILOVER_GOAL_SECONDS
    assert holder_pid(stack) == standby.pid
    assert "leading: holds lease" in stack.log("watcher-b")
    # Its watch follows what happens next (not only its first list).
    late = api.submit_ok("alpha", job_body(unique("late")))
    api.wait_status("alpha", late["id"], "succeeded", 60)
    assert api.record("alpha", kept["id"])["status"] == "running"


def test_a_leader_whose_lease_is_taken_exits_at_once(private_stack, kube_api):
    stack = private_stack
    watcher = stack.start_watcher()
    wait_until("the watcher to lead", lambda: holder_pid(stack) == watcher.pid, 15, 0.05)
    lease = stack.lease()
    lease["spec"]["holderIdentity"] = "intruder"
    client.CoordinationV1Api(kube_api).replace_namespaced_lease(
        lease_name(stack.instance), lease_namespace(stack.env), lease
    )
    taken = time.monotonic()
    assert watcher.wait(10) == LOST_LEADERSHIP
    assert time.monotonic() - taken < TIMINGS.retry_seconds + 1.5  # its next renewal
    assert "lost the watcher lease (held by intruder)" in stack.log("watcher")
    assert stack.lease()["spec"]["holderIdentity"] == "intruder"  # it did not write again


def test_a_leader_cut_off_from_the_apiserver_exits_before_its_lease_expires(
    private_stack, kubeconfig, tmp_path
):
    stack = private_stack
    raw = yaml.safe_load(open(kubeconfig))
    (cluster,) = raw["clusters"]
    server = urlparse(cluster["cluster"]["server"])
    relay = Relay(server.hostname, server.port)
    try:
        cluster["cluster"]["server"] = f"https://{server.hostname}:{relay.port}"
        relayed = tmp_path / "relayed.kubeconfig"
        relayed.write_text(yaml.safe_dump(raw))
        watcher = stack.start_watcher(extra_env={"KUBECONFIG": str(relayed)})
        wait_until("the watcher to lead", lambda: holder_pid(stack) == watcher.pid, 15, 0.05)
        time.sleep(2 * TIMINGS.retry_seconds)  # a renewal or two through the relay
        relay.cut()
        assert watcher.wait(TIMINGS.renew_seconds + 5) == LOST_LEADERSHIP
        exited = time.time()
    finally:
        relay.close()
    assert f"not renewed for {TIMINGS.renew_seconds:g} s" in stack.log("watcher")
    # It stopped while its Lease still held: no standby could have led before it stopped.
    spec = stack.lease()["spec"]
    assert holder_pid(stack) == watcher.pid
    assert exited - epoch(spec["renewTime"]) < spec["leaseDurationSeconds"]


def test_sigterm_hands_the_lease_to_the_standby_at_once(private_stack):
    stack = private_stack
    leader, standby = leader_and_standby(stack)
    stopped = time.monotonic()
    leader.send_signal(signal.SIGTERM)
    wait_until("the standby to lead", lambda: holder_pid(stack) == standby.pid, 5, 0.05)
    handover = time.monotonic() - stopped
    print(f"\nwatcher handover on SIGTERM: {handover:.2f} s")
    assert handover < TIMINGS.retry_seconds + 1
    assert leader.wait(5) == 0
    assert "released lease" in stack.log("watcher-a")
    wait_until("the new leader's mirror to list", lambda: "listed" in stack.log("watcher-b"), 10)
