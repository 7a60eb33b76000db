"""The node agent against the real local control plane and the real Kubeflow training operator:
registration, PyTorchJobs whose master and worker really rendezvous over TCP on the rewritten
MASTER_ADDR:MASTER_PORT, failure exit codes, in-place restarts, deletion, `kubectl logs`, and
an agent restart. Each module run registers its own node (unique name and pool label), so it
can run beside other tests and a `make cluster-up` agent."""

from __future__ import annotations

import os
import signal
import subprocess

import pytest
from kubernetes import client

from tests.nodeagent.cluster import (
    TAINT_KEY,
    create_job,
    pid_alive,
    pid_of,
    pod_container,
    replica,
    wait_job,
)
from tests.support import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

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


def test_deletion_sends_sigterm_and_kills_only_after_the_grace_period(
    core, kube_api, agent, namespace, tmp_path
):
    """A replica that ignores SIGTERM runs on through terminationGracePeriodSeconds (the time a
    trainer has to write its checkpoint), then is SIGKILLed."""
    beats = tmp_path / "beats"
    stubborn = (
        "import signal, time\n"
        f"out = open({str(beats)!r}, 'a', buffering=1)\n"
        "signal.signal(signal.SIGTERM, lambda *_: out.write(f'term {time.time()}\\n'))\n"
        "while True:\n"
        "    out.write(f'beat {time.time()}\\n'); time.sleep(0.05)\n"
    )
    grace = 3
    create_job(kube_api, namespace, "stubborn", {"Master": replica(agent, stubborn, grace=grace)})
    wait_job(kube_api, namespace, "stubborn", "Running")
    pid = pid_of(pod_container(core, namespace, "stubborn-master-0"))
    wait_until("the first beat", lambda: beats.exists() and "beat" in beats.read_text())
    client.CustomObjectsApi(kube_api).delete_namespaced_custom_object(
        "kubeflow.org", "v1", namespace, "pytorchjobs", "stubborn",
        propagation_policy="Foreground",
    )  # fmt: skip
    wait_until("the process to be killed", lambda: not pid_alive(pid), timeout=30)
    lines = [line.split() for line in beats.read_text().splitlines()]
    (term,) = [float(t) for kind, t in lines if kind == "term"]
    last_beat = max(float(t) for kind, t in lines if kind == "beat")
    assert grace - 0.5 <= last_beat - term < grace + 2, (term, last_beat)
