"""The faults a chaos run injects. Each takes the run (tests.chaos.harness.ChaosRun) and a
seeded random source, does its damage, brings back what a cluster would bring back (a pod
restarted by its kubelet: the run's supervisor; a node replaced), and returns a one-line
detail and the monotonic time the fault ended (from then on the system must recover alone)."""

import os
import signal
import time
from pathlib import Path
from random import Random

from kubernetes import client, config

from tests.chaos.control_plane import Component, wait_healthy
from tests.support import wait_until

OUTAGE_S = float(os.environ.get("CHAOS_OUTAGE_SECONDS", "60"))  # apiserver, operator
NODE_GONE_S = 20.0  # a deleted node's replacement registers after this
LOCAL = Path(__file__).resolve().parents[2] / ".local"


def _env_path(var: str, default: Path) -> Path:
    return Path(os.environ.get(var) or default)


def component(name: str) -> Component:
    return Component(name, _env_path("TRAINQ_RUN", LOCAL / "run"),
                     _env_path("TRAINQ_LOGS", LOCAL / "logs"))  # fmt: skip


def _apiserver_ready() -> float:
    return wait_healthy(f"https://127.0.0.1:{os.environ.get('APISERVER_PORT', '16443')}/readyz")


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


# --- trainq's own processes --------------------------------------------------------------
def api_worker(run, rnd: Random):
    """One gunicorn worker SIGKILLed (mid-request, most likely): the master forks another."""
    victims = children(run.stack.procs["api"].pid)
    victim = rnd.choice(victims)
    os.kill(victim, signal.SIGKILL)
    return f"gunicorn worker pid {victim} of {len(victims)}", time.monotonic()


def api_pod(run, rnd: Random):
    """The whole API (master and workers) SIGKILLed; the supervisor starts it again."""
    master = run.stack.procs["api"].pid
    for pid in [master, *children(master)]:
        os.kill(pid, signal.SIGKILL)
    ended = run.wait_respawned("api")
    return f"gunicorn master {master} and its workers", ended


def rq_worker(run, rnd: Random):
    """A running RQ worker SIGKILLed at a random moment (claiming, creating or idle)."""
    name = rnd.choice(sorted(n for n in run.stack.procs if n in ("w1", "w2")))
    last = (run.stack.log(name).strip().splitlines() or [""])[-1][-120:]
    run.stack.procs[name].send_signal(signal.SIGKILL)
    ended = run.wait_respawned(name)
    return f"{name}, last log line: {last}", ended


def _hooked_worker(run, rnd: Random, point: str):
    """An extra worker that pauses at `point` of its first dispatch, SIGKILLed there: its job
    comes back only through its expired dispatch lease."""
    marker = run.dir / f"hook-{point}-{time.monotonic_ns()}"
    name = f"hooked-{point}"
    run.stack.start_worker(name, {"TRAINQ_TEST_HOOK": f"{point}:{marker}"})
    wait_until(f"a dispatch paused at {point}", marker.exists, 60, 0.05)
    job_id = int(marker.read_text())
    run.stack.kill(name, signal.SIGKILL)
    marker.unlink(missing_ok=True)
    return f"job {job_id}", time.monotonic()


def worker_before_create(run, rnd: Random):
    return _hooked_worker(run, rnd, "before-create")


def worker_after_create(run, rnd: Random):
    return _hooked_worker(run, rnd, "after-create")


def watcher_leader(run, rnd: Random):
    """The leading watcher SIGKILLed (mid-mirror, most likely): the standby takes over."""
    holder = ((run.stack.lease() or {}).get("spec") or {}).get("holderIdentity") or ""
    pid = int(holder.rsplit("-", 2)[1]) if holder else -1
    name = next((n for n, p in run.stack.procs.items() if p.pid == pid), None)
    if name is None:
        name = rnd.choice(sorted(n for n in run.stack.procs if n.startswith("watcher")))
    run.stack.procs[name].send_signal(signal.SIGKILL)
    ended = run.wait_respawned(name)
    return f"{name} (pid {pid}, the Lease's holder)", ended


# --- Redis and the control plane ---------------------------------------------------------
def redis_restart(run, rnd: Random):
    """Redis SIGKILLed and started again 2 s later on its AOF (a restarted pod, same volume)."""
    run.redis.crash()
    time.sleep(2)
    run.redis.start()
    return "redis-server SIGKILL, restarted after 2 s", time.monotonic()


def apiserver_outage(run, rnd: Random):
    c = component("kube-apiserver")
    c.kill()
    time.sleep(OUTAGE_S)
    c.start()
    _apiserver_ready()
    return f"kube-apiserver down {OUTAGE_S:.0f} s", time.monotonic()


def etcd_restart(run, rnd: Random):
    c = component("etcd")
    c.kill()
    c.start()
    wait_healthy(f"http://127.0.0.1:{os.environ.get('ETCD_PORT', '12379')}/health")
    _apiserver_ready()
    return "etcd SIGKILL and restart", time.monotonic()


def operator_outage(run, rnd: Random):
    c = component("training-operator")
    c.kill()
    time.sleep(OUTAGE_S)
    c.start()
    port = os.environ.get("OPERATOR_HEALTH_PORT", "18081")
    wait_healthy(f"http://127.0.0.1:{port}/readyz")
    return f"training operator down {OUTAGE_S:.0f} s", time.monotonic()


def node_loss(run, rnd: Random):
    """A fake node holding running replicas of this run deleted; a new one of the same name
    registers NODE_GONE_S later (as a replaced machine would)."""
    core = client.CoreV1Api(config.new_client_from_config(config_file=run.kubeconfig))

    def busy_node():
        held: dict[str, int] = {}
        for ns in run.namespaces:
            for pod in core.list_namespaced_pod(ns, field_selector="status.phase=Running").items:
                if (pod.spec.node_name or "").startswith("kwok-"):
                    held[pod.spec.node_name] = held.get(pod.spec.node_name, 0) + 1
        return max(held, key=held.get) if held else None

    name = wait_until("a node running replicas", busy_node, 60, 0.5)
    node = core.read_node(name)
    running = sum(1 for ns in run.namespaces
                  for p in core.list_namespaced_pod(ns, field_selector="status.phase=Running").items
                  if p.spec.node_name == name)  # fmt: skip
    core.delete_node(name)
    time.sleep(NODE_GONE_S)
    core.create_node(client.V1Node(
        metadata=client.V1ObjectMeta(name=name, labels=node.metadata.labels,
                                     annotations=node.metadata.annotations),
        status=client.V1NodeStatus(capacity=node.status.capacity,
                                   allocatable=node.status.allocatable),
    ))  # fmt: skip
    return f"{name} deleted with {running} running replicas, back after {NODE_GONE_S:.0f} s", (
        time.monotonic()
    )


FAULTS = {
    "api-worker": api_worker,
    "api-pod": api_pod,
    "rq-worker": rq_worker,
    "worker-before-create": worker_before_create,
    "worker-after-create": worker_after_create,
    "watcher-leader": watcher_leader,
    "redis": redis_restart,
    "apiserver": apiserver_outage,
    "etcd": etcd_restart,
    "operator": operator_outage,
    "node": node_loss,
}
# What the short variant in `make test` injects: nothing that touches the shared control
# plane, which other tests use at the same time.
PRIVATE = ["api-worker", "api-pod", "rq-worker", "worker-after-create", "watcher-leader", "redis"]
