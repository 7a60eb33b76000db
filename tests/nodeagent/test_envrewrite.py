"""The pod env on one host: downward API, $(VAR) expansion, job names -> 127.0.0.1 and one
remapped port per job."""

import itertools

import pytest
from nodeagent.envrewrite import (
    HostRewriter,
    JobPorts,
    JobRef,
    container_env,
    expand,
    job_of,
    process_spec,
)

JOB = JobRef("team-a", "j1", "uid-1")


def operator_pod(name="j1-worker-0", rank="1"):
    """A pod as the training operator writes it (env from pkg/controller.v1/pytorch/envvar.go)."""
    return {
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": f"pod-{name}",
            "labels": {"training.kubeflow.org/job-name": "j1", "team": "a"},
            "ownerReferences": [{"kind": "PyTorchJob", "uid": "uid-1", "controller": True}],
        },
        "spec": {
            "nodeName": "local",
            "containers": [
                {
                    "name": "pytorch",
                    "image": "img",
                    "command": ["python", "-m", "train"],
                    "args": ["--addr=$(MASTER_ADDR):$(MASTER_PORT)", "j1-master-0:23456"],
                    "env": [
                        {"name": "PYTHONUNBUFFERED", "value": "1"},
                        {"name": "MASTER_ADDR", "value": "j1-master-0"},
                        {"name": "MASTER_PORT", "value": "23456"},
                        {"name": "PET_MASTER_ADDR", "value": "j1-master-0"},
                        {"name": "PET_MASTER_PORT", "value": "23456"},
                        {"name": "WORLD_SIZE", "value": "2"},
                        {"name": "RANK", "value": rank},
                        {"name": "PET_RDZV_ENDPOINT", "value": "j1-worker-0:23456"},
                        {"name": "URL", "value": "tcp://j1-master-0.team-a.svc:23456/x"},
                        {"name": "OTHER", "value": "j10-master-0 and xj1-master-0 stay"},
                        {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                        {
                            "name": "NS",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}},
                        },
                        {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                        {
                            "name": "TEAM",
                            "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}},
                        },
                        {"name": "DERIVED", "value": "$(POD)-x $$(POD) $(NOPE)"},
                    ],
                }
            ],
        },
    }


def counter_ports(start=40000):
    it = itertools.count(start)
    return JobPorts(pick=lambda: next(it))


def test_job_of_reads_label_and_controller_owner():
    assert job_of(operator_pod()) == JOB
    assert job_of({"metadata": {"namespace": "x", "labels": {}}}) is None


def test_container_env_resolves_downward_api_and_expansion():
    pod = operator_pod()
    env = container_env(pod, pod["spec"]["containers"][0], pod_ip="10.1.2.3")
    assert env["POD"] == "j1-worker-0" and env["NS"] == "team-a"
    assert env["IP"] == "10.1.2.3" and env["TEAM"] == "a"
    assert env["DERIVED"] == "j1-worker-0-x $(POD) $(NOPE)"


def test_expand_leaves_unknown_and_unescapes_dollar():
    assert expand("$(A)/$(B)/$$(A)/$$", {"A": "1"}) == "1/$(B)/$(A)/$"


def test_env_from_and_key_refs_use_lookup():
    pod = operator_pod()
    container = {
        "name": "c",
        "envFrom": [{"configMapRef": {"name": "cm"}, "prefix": "CM_"}],
        "env": [{"name": "S", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
    }
    data = {("configmap", "cm"): {"A": "1"}, ("secret", "s"): {"k": "v"}}
    env = container_env(pod, container, lookup=lambda kind, ns, name: data.get((kind, name)))
    assert env == {"CM_A": "1", "S": "v"}


def test_rewriter_maps_job_hosts_and_ports_only():
    ports = counter_ports()
    rw = HostRewriter(JOB, lambda p: ports.port(JOB, p))
    out = rw.env(
        {
            "MASTER_ADDR": "j1-master-0",
            "MASTER_PORT": "23456",
            "PET_RDZV_ENDPOINT": "j1-worker-0:29400",
            "URL": "tcp://j1-master-0.team-a.svc.cluster.local:23456/x",
            "OTHER": "j10-master-0 xj1-master-0 j1-master-0.other-ns",
            "PLAIN_PORT": "23456",
        }
    )
    assert out["MASTER_ADDR"] == "127.0.0.1"
    assert out["MASTER_PORT"] == "40000"
    assert out["PET_RDZV_ENDPOINT"] == "127.0.0.1:40001"
    assert out["URL"] == "tcp://127.0.0.1:40000/x"
    # other jobs' names, look-alikes and other namespaces are left alone
    assert out["OTHER"] == "j10-master-0 xj1-master-0 j1-master-0.other-ns"
    assert out["PLAIN_PORT"] == "23456"


def test_all_pods_of_a_job_get_the_same_port_and_jobs_differ():
    ports = counter_ports()
    other = JobRef("team-a", "j1", "uid-2")  # same name, re-created job
    assert ports.port(JOB, 23456) == ports.port(JOB, 23456) == 40000
    assert ports.port(other, 23456) == 40001
    ports.forget(JOB)
    assert ports.port(JOB, 23456) == 40002


def test_port_map_never_hands_out_a_port_twice():
    picks = iter([5000, 5000, 5001])
    ports = JobPorts(pick=lambda: next(picks))
    assert ports.port(JOB, 1) == 5000
    assert ports.port(JobRef("n", "other", "u"), 1) == 5001


def test_process_spec_worker_and_master_agree_and_python_is_the_venv():
    ports = counter_ports()
    base = {"PATH": "/venv/bin:/usr/bin", "HOME": "/h", "PYTHONUNBUFFERED": "0"}
    worker = operator_pod()
    master = operator_pod("j1-master-0", "0")
    argv_w, env_w = process_spec(worker, worker["spec"]["containers"][0], ports, base, "/v/py")
    _, env_m = process_spec(master, master["spec"]["containers"][0], ports, base, "/v/py")
    assert argv_w[0] == "/v/py"
    assert argv_w[1:] == ["-m", "train", "--addr=127.0.0.1:40000", "127.0.0.1:40000"]
    assert env_w["MASTER_PORT"] == env_m["MASTER_PORT"] == env_w["PET_MASTER_PORT"] == "40000"
    assert env_w["PET_MASTER_ADDR"] == "127.0.0.1"
    assert env_w["HOME"] == "/h" and env_w["PYTHONUNBUFFERED"] == "1"  # pod env wins
    assert env_w["RANK"] == "1" and env_m["RANK"] == "0"


def test_process_spec_without_job_label_is_left_alone():
    pod = {"metadata": {"name": "p", "namespace": "n"}, "spec": {}}
    container = {
        "name": "c",
        "command": ["python3.11", "x.py"],
        "env": [
            {"name": "MASTER_ADDR", "value": "j1-master-0"},
            {"name": "MASTER_PORT", "value": "1"},
        ],
    }
    argv, env = process_spec(pod, container, counter_ports(), {}, "/v/py")
    assert argv == ["/v/py", "x.py"]
    assert env == {"MASTER_ADDR": "j1-master-0", "MASTER_PORT": "1"}


def test_process_spec_needs_a_command():
    with pytest.raises(ValueError, match="no command"):
        process_spec(operator_pod(), {"name": "c", "args": ["x"]}, counter_ports(), {}, "/py")
