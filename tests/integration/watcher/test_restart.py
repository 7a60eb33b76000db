"""The watcher is only a mirror: stopped, restarted, or handed a stale resourceVersion, it
catches every job record up with its PyTorchJob."""

import secrets
import signal
import subprocess

import pytest
import redis

from queue_workers.watcher.process import Watcher
from tests.support.stack import job_body, unique, wait_until
from wrapper.config import load_config
from wrapper.jobs.store import JobStore
from wrapper.redis import connect

pytestmark = [pytest.mark.integration, pytest.mark.cluster]


def test_restarted_watcher_catches_up(private_stack, kubeconfig, kubectl_bin):
    stack = private_stack
    api = stack.start_all()
    slow = {"trainq.dev/sim-run-for": "120s"}
    short = api.submit_ok("alpha", job_body(unique("short"), annotations={
        "trainq.dev/sim-run-for": "4s"}))  # fmt: skip
    doomed = api.submit_ok("beta", job_body(unique("doomed"), annotations=slow))
    api.wait_status("alpha", short["id"], "running", 60)
    doomed_rec = api.wait_status("beta", doomed["id"], "running", 60)

    stack.kill("watcher", signal.SIGKILL)
    # While no watcher runs: one job finishes, one PyTorchJob is deleted by hand, and a new
    # job is dispatched and starts running (one replica, pinned to one node: no placement
    # gate waits for a watcher).
    late = api.submit_ok("alpha", job_body(unique("late"), annotations=slow))
    ref = doomed_rec["pytorchjob"]
    subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "delete", "pytorchjob", "-n", ref["namespace"],
         ref["name"]],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip

    def late_running_in_cluster():
        items = stack.pytorchjobs("team-alpha", late["id"])
        conds = (items[0].get("status") or {}).get("conditions") or [] if items else []
        return any(c["type"] == "Running" and c["status"] == "True" for c in conds)

    wait_until("the late job to run in the cluster", late_running_in_cluster, 60)

    def short_succeeded_in_cluster():
        (obj,) = stack.pytorchjobs("team-alpha", short["id"])
        conds = (obj.get("status") or {}).get("conditions") or []
        return any(c["type"] == "Succeeded" and c["status"] == "True" for c in conds)

    wait_until("the short job to finish in the cluster", short_succeeded_in_cluster, 60)
    # The records are stale: nothing mirrored them.
    assert api.record("alpha", short["id"])["status"] == "running"
    assert api.record("beta", doomed["id"])["status"] == "running"
    assert api.record("alpha", late["id"])["status"] == "created"

    stack.start_watcher("watcher-2")
    assert api.wait_status("alpha", short["id"], "succeeded", 30)["replicas"]["Master"] == {
        "active": 0, "succeeded": 1, "failed": 0,
    }  # fmt: skip
    final = api.wait_status("beta", doomed["id"], "cancelled", 30)
    assert final["reason"] == "PyTorchJobDeleted"
    api.wait_status("alpha", late["id"], "running", 30)


def test_stale_resource_version_relists(private_redis, kubeconfig, kube_api, tmp_path):
    """A watch from a resourceVersion the apiserver no longer has ends in 410 Gone: the
    watcher reports it (so the loop relists) instead of failing."""
    from tests.support.stack import LOCAL_CONFIG

    config = load_config(LOCAL_CONFIG).model_copy(update={"instance": "t" + secrets.token_hex(4)})
    store = JobStore(connect(private_redis.url), [t.name for t in config.teams])
    mirror = Watcher(config, store, kubeconfig).mirror
    resource_version = mirror.relist()
    assert int(resource_version) > 1
    assert mirror.watch_from("1") is None  # too old: 410 Gone -> relist
    redis.Redis.from_url(private_redis.url).ping()
