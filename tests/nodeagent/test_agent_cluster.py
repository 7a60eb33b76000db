"""The node agent against the real local control plane and the real Kubeflow training operator:
registration, PyTorchJobs whose master and worker really rendezvous over TCP on the rewritten
MASTER_ADDR:MASTER_PORT, failure exit codes, in-place restarts, deletion, `kubectl logs`, and
an agent restart. Each module run registers its own node (unique name and pool label), so it
can run beside other tests and a `make cluster-up` agent."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kubernetes import client

from tests.support import REPO, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

TAINT_KEY = "trainq.dev/local-node"

# Master listens on MASTER_ADDR:MASTER_PORT, the worker connects and says hello: a rendezvous
# without torch that only works if both pods got 127.0.0.1 and the same remapped port.
RENDEZVOUS = """
import os, socket, sys, time
addr, port, rank = os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), os.environ["RANK"]
print(f"rank={rank} world={os.environ['WORLD_SIZE']} master={addr}:{port}", flush=True)
if rank == "0":
    srv = socket.create_server((addr, port))
    srv.settimeout(60)
    conn, _ = srv.accept()
    print("master got:", conn.recv(100).decode(), flush=True)
    # The operator marks the job Succeeded when the master does and counts replicas only
    # then: outlive the worker (EOF = its process is gone) so its success is counted too.
    conn.recv(1)
    time.sleep(1)
else:
    for _ in range(300):
        try:
            conn = socket.create_connection((addr, port))
            break
        except OSError:
            time.sleep(0.1)
    conn.sendall(f"hello from rank {rank}".encode())
    print("worker sent", flush=True)
"""


class Agent:
    """The agent as a real subprocess, the way cluster-up.sh starts it."""

    def __init__(self, kubeconfig: str, state_dir: Path, node: str, pool: str):
        self.kubeconfig, self.state_dir, self.node, self.pool = kubeconfig, state_dir, node, pool
        self.proc: subprocess.Popen | None = None
        self.log = state_dir / "agent.log"

    def start(self) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO / "k8s/local")}
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nodeagent", "--kubeconfig", self.kubeconfig,
                 "--node-name", self.node, "--port", "0", "--state-dir", str(self.state_dir),
                 "--label", f"trainq.dev/pool={self.pool}"],
                env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def core(kube_api):
    return client.CoreV1Api(kube_api)


@pytest.fixture(scope="module")
def agent(kubeconfig, core, tmp_path_factory):
    suffix = uuid.uuid4().hex[:6]
    agent = Agent(kubeconfig, tmp_path_factory.mktemp("nodeagent"), f"na-test-{suffix}",
                  f"nodeagent-test-{suffix}")  # fmt: skip
    agent.start()
    try:
        wait_until("the node to be Ready", lambda: node_ready(core, agent.node), timeout=30)
        yield agent
    finally:
        agent.stop()
        try:
            core.delete_node(agent.node)
        except client.ApiException:
            pass
        if agent.proc and agent.proc.returncode not in (0, None):
            print(agent.log.read_text()[-4000:])


@pytest.fixture(scope="module")
def namespace(core, agent):
    """A namespace for this module's jobs; deleted while the agent still runs, so the pods'
    processes are stopped and their objects removed."""
    name = f"na-{uuid.uuid4().hex[:8]}"
    core.create_namespace({"metadata": {"name": name}})
    wait_until("the default service account",
               lambda: core.list_namespaced_service_account(name).items, timeout=30)  # fmt: skip
    yield name
    core.delete_namespace(name)

    def gone():
        try:
            core.read_namespace(name)
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_until("the namespace to go", gone, timeout=60)


def node_ready(core, name):
    try:
        node = core.read_node(name)
    except client.ApiException:
        return False
    ready = any(c.type == "Ready" and c.status == "True" for c in node.status.conditions or [])
    # The node-lifecycle controller lifts its not-ready taint a few seconds after Ready.
    lifecycle_taints = [
        t for t in node.spec.taints or [] if t.key.startswith("node.kubernetes.io/")
    ]
    return ready and not lifecycle_taints


def replica(agent, script, restart_policy="Never", replicas=1):
    return {
        "replicas": replicas,
        "restartPolicy": restart_policy,
        "template": {
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": agent.node},
                "tolerations": [{"key": TAINT_KEY, "operator": "Exists", "effect": "NoSchedule"}],
                "terminationGracePeriodSeconds": 5,
                "containers": [
                    {"name": "pytorch", "image": "local", "command": ["python", "-c", script]}
                ],
            }
        },
    }


def create_job(kube_api, namespace, name, specs):
    body = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"pytorchReplicaSpecs": specs},
    }
    client.CustomObjectsApi(kube_api).create_namespaced_custom_object(
        "kubeflow.org", "v1", namespace, "pytorchjobs", body
    )


def job_status(kube_api, namespace, name):
    job = client.CustomObjectsApi(kube_api).get_namespaced_custom_object(
        "kubeflow.org", "v1", namespace, "pytorchjobs", name
    )
    return job.get("status") or {}


def condition(status, ctype):
    return any(c["type"] == ctype and c["status"] == "True" for c in status.get("conditions") or [])


def wait_job(kube_api, namespace, name, ctype, timeout=60):
    return wait_until(
        f"job {name} {ctype}",
        lambda: (s := job_status(kube_api, namespace, name)) and condition(s, ctype) and s,
        timeout,
    )


def pod_container(core, namespace, pod):
    return core.read_namespaced_pod(pod, namespace).status.container_statuses[0]


def pid_of(container_status) -> int:
    return int(container_status.container_id.rsplit("/", 1)[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead for our purposes
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def test_node_registers_ready_tainted_and_labelled(core, kube_api, agent):
    node = core.read_node(agent.node)
    assert node.metadata.labels["trainq.dev/pool"] == agent.pool
    assert "kwok.x-k8s.io/node" not in (node.metadata.annotations or {})
    assert [(t.key, t.value, t.effect) for t in node.spec.taints or []] == [
        (TAINT_KEY, "true", "NoSchedule")
    ]
    assert node.status.capacity["cpu"] == str(os.cpu_count())
    assert node.status.daemon_endpoints.kubelet_endpoint.port > 0
    lease = client.CoordinationV1Api(kube_api).read_namespaced_lease(agent.node, "kube-node-lease")
    assert lease.spec.holder_identity == agent.node


def test_two_jobs_rendezvous_on_their_own_ports_and_succeed(
    core, kube_api, agent, namespace, kubectl_bin, kubeconfig
):
    for name in ("rdv-a", "rdv-b"):
        create_job(
            kube_api,
            namespace,
            name,
            {"Master": replica(agent, RENDEZVOUS), "Worker": replica(agent, RENDEZVOUS)},
        )
    ports = set()
    for name in ("rdv-a", "rdv-b"):
        status = wait_job(kube_api, namespace, name, "Succeeded")
        assert status["replicaStatuses"]["Master"]["succeeded"] == 1
        assert status["replicaStatuses"]["Worker"]["succeeded"] == 1
        out = subprocess.run(
            [kubectl_bin, "--kubeconfig", kubeconfig, "-n", namespace, "logs",
             f"{name}-master-0"],
            capture_output=True, text=True, timeout=30, check=True,
        ).stdout  # fmt: skip
        assert "master got: hello from rank 1" in out, out
        master = out.splitlines()[0]  # rank=0 world=2 master=127.0.0.1:<port>
        assert "world=2 master=127.0.0.1:" in master, master
        ports.add(master.rsplit(":", 1)[1])
        worker = core.read_namespaced_pod(f"{name}-worker-0", namespace).status
        assert worker.phase == "Succeeded"
        assert worker.init_container_statuses[0].state.terminated.exit_code == 0
        assert worker.container_statuses[0].state.terminated.reason == "Completed"
    assert len(ports) == 2 and "23456" not in ports, ports


def test_tail_lines_through_kubectl(kube_api, agent, namespace, kubectl_bin, kubeconfig):
    out = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "-n", namespace, "logs", "rdv-a-worker-0",
         "--tail=1"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert out == "worker sent\n"


def test_failing_command_fails_the_job_with_its_exit_code(core, kube_api, agent, namespace):
    failing = "import sys; print('bad input'); sys.exit(3)"
    create_job(kube_api, namespace, "fails", {"Master": replica(agent, failing)})
    wait_job(kube_api, namespace, "fails", "Failed")
    pod = core.read_namespaced_pod("fails-master-0", namespace).status
    assert pod.phase == "Failed"
    term = pod.container_statuses[0].state.terminated
    assert (term.exit_code, term.reason) == (3, "Error")
    assert term.started_at and term.finished_at


def test_on_failure_restarts_in_place(
    core, kube_api, agent, namespace, tmp_path, kubectl_bin, kubeconfig
):
    marker = tmp_path / "ran-once"
    flaky = (
        f"import pathlib, sys; m = pathlib.Path({str(marker)!r})\n"
        "if m.exists(): print('second run ok'); sys.exit(0)\n"
        "m.touch(); print('first run fails'); sys.exit(1)\n"
    )
    create_job(kube_api, namespace, "flaky", {"Master": replica(agent, flaky, "OnFailure")})
    wait_job(kube_api, namespace, "flaky", "Succeeded")
    cs = pod_container(core, namespace, "flaky-master-0")
    assert cs.restart_count == 1
    assert cs.last_state.terminated.exit_code == 1
    assert cs.state.terminated.exit_code == 0
    logs = [kubectl_bin, "--kubeconfig", kubeconfig, "-n", namespace, "logs", "flaky-master-0"]
    run = subprocess.run(logs, capture_output=True, text=True, timeout=30, check=True)
    assert run.stdout == "second run ok\n"
    run = subprocess.run([*logs, "--previous"], capture_output=True, text=True, timeout=30)
    assert run.stdout == "first run fails\n", run.stderr


def test_exit_code_policy_retries_a_retryable_exit(core, kube_api, agent, namespace, tmp_path):
    """restartPolicy ExitCode: the pod is Never-restart, exit 130 (>= 128) makes the operator
    delete and re-create it (Restarting), and the second pod succeeds."""
    marker = tmp_path / "ran-once"
    retryable = (
        f"import pathlib, sys; m = pathlib.Path({str(marker)!r})\n"
        "if m.exists(): sys.exit(0)\n"
        "m.touch(); sys.exit(130)\n"
    )
    create_job(kube_api, namespace, "retry", {"Master": replica(agent, retryable, "ExitCode")})
    wait_job(kube_api, namespace, "retry", "Succeeded")
    # The first run exited 130 (marker written), so success means a second pod ran; and it
    # was a new pod, not an in-place restart.
    assert marker.exists()
    assert pod_container(core, namespace, "retry-master-0").restart_count == 0


def test_follow_streams_until_the_process_ends(kube_api, agent, namespace, kubectl_bin,
                                               kubeconfig):  # fmt: skip
    script = "import time; print('one', flush=True); time.sleep(2); print('two', flush=True)"
    create_job(kube_api, namespace, "chatty", {"Master": replica(agent, script)})
    wait_job(kube_api, namespace, "chatty", "Running")
    out = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "-n", namespace, "logs", "-f",
         "chatty-master-0"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    assert out == "one\ntwo\n"


def test_a_finished_container_leaves_no_processes(
    core, kube_api, agent, namespace, kubectl_bin, kubeconfig
):
    spawner = "import subprocess; p = subprocess.Popen(['sleep', '300']); print(p.pid, flush=True)"
    create_job(kube_api, namespace, "spawner", {"Master": replica(agent, spawner)})
    wait_job(kube_api, namespace, "spawner", "Succeeded")
    out = subprocess.run(
        [kubectl_bin, "--kubeconfig", kubeconfig, "-n", namespace, "logs", "spawner-master-0"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout  # fmt: skip
    child = int(out.strip())
    wait_until("the orphaned child to be killed", lambda: not pid_alive(child), timeout=10)


def test_deleting_a_running_job_stops_its_processes(core, kube_api, agent, namespace):
    sleeper = "import time; print('sleeping', flush=True); time.sleep(300)"
    create_job(kube_api, namespace, "sleepy", {"Master": replica(agent, sleeper)})
    wait_job(kube_api, namespace, "sleepy", "Running")
    pid = pid_of(pod_container(core, namespace, "sleepy-master-0"))
    assert pid_alive(pid)
    client.CustomObjectsApi(kube_api).delete_namespaced_custom_object(
        "kubeflow.org", "v1", namespace, "pytorchjobs", "sleepy",
        propagation_policy="Foreground",
    )  # fmt: skip

    def pod_gone():
        try:
            core.read_namespaced_pod("sleepy-master-0", namespace)
        except client.ApiException as exc:
            return exc.status == 404
        return False

    wait_until("the pod object to go", pod_gone, timeout=30)
    assert not pid_alive(pid)


def test_agent_restart_reports_lost_processes(core, kube_api, agent, namespace):
    """Killed hard, the agent leaves a running pod behind; the next agent kills the leftover
    process and reports the container lost (137), so a Never pod fails instead of hanging."""
    sleeper = "import time; time.sleep(300)"
    create_job(kube_api, namespace, "orphan", {"Master": replica(agent, sleeper)})
    wait_job(kube_api, namespace, "orphan", "Running")
    pid = pid_of(pod_container(core, namespace, "orphan-master-0"))
    agent.stop(signal.SIGKILL)
    assert pid_alive(pid)  # its own session: a dead agent does not take it down
    agent.start()
    wait_until("the leftover process to be killed", lambda: not pid_alive(pid), timeout=30)
    wait_job(kube_api, namespace, "orphan", "Failed")
    term = pod_container(core, namespace, "orphan-master-0").state.terminated
    assert (term.exit_code, term.reason) == (137, "ContainerLost")
