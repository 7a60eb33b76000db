"""A Kubeflow Trainer v2 TrainJob's pods on one host: their job is their JobSet (found by its
labels), the torch plugin's PET_* env resolves (the node rank from the Job's completion-index
annotation), and JobSet hostnames become 127.0.0.1 with one remapped port per JobSet."""

import itertools

from nodeagent.envrewrite import (
    JOBSET,
    HostRewriter,
    JobPorts,
    JobRef,
    container_env,
    job_of,
    process_spec,
)

JOB = JobRef("team-local", "tq-7", "js-uid", JOBSET)
INDEX = "batch.kubernetes.io/job-completion-index"


def trainjob_pod(index: int = 1, name: str = "tq-7") -> dict:
    """A pod as JobSet v0.12.0 and the Job controller write it for a TrainJob on the
    `torch-distributed` runtime (env from trainer v2.3.0's torch plugin, EnforceMLPolicy)."""
    return {
        "metadata": {
            "name": f"{name}-node-0-{index}-x7k2q",
            "namespace": "team-local",
            "uid": f"pod-{index}",
            "labels": {
                "jobset.sigs.k8s.io/jobset-name": name,
                "jobset.sigs.k8s.io/jobset-uid": "js-uid",
                "jobset.sigs.k8s.io/replicatedjob-name": "node",
                INDEX: str(index),
                "trainq.dev/job-id": "7",
            },
            "annotations": {INDEX: str(index), "jobset.sigs.k8s.io/jobset-uid": "js-uid"},
            # The controller owner is the node's batch Job, not the JobSet.
            "ownerReferences": [{"kind": "Job", "uid": "job-uid", "controller": True}],
        },
        "spec": {
            "hostname": f"{name}-node-0-{index}",
            "subdomain": name,
            "containers": [
                {
                    "name": "node",
                    "command": ["python", "-m", "trainers.intent_classification"],
                    "args": ["--peer=$(PET_MASTER_ADDR):$(PET_MASTER_PORT)"],
                    "env": [
                        {"name": "JOB_ID", "value": "7"},
                        {"name": "PET_NNODES", "value": "2"},
                        {"name": "PET_NPROC_PER_NODE", "value": "1"},
                        {
                            "name": "PET_NODE_RANK",
                            "valueFrom": {
                                "fieldRef": {"fieldPath": f"metadata.annotations['{INDEX}']"}
                            },
                        },
                        {"name": "PET_MASTER_ADDR", "value": f"{name}-node-0-0.{name}"},
                        {"name": "PET_MASTER_PORT", "value": "29500"},
                    ],
                    "ports": [{"containerPort": 29500}],
                }
            ],
        },
    }


def counter_ports(start=41000):
    it = itertools.count(start)
    return JobPorts(pick=lambda: next(it))


def test_job_of_a_jobset_pod_is_its_jobset_by_name_and_uid():
    assert job_of(trainjob_pod()) == JOB
    # Without the uid label (an older JobSet): its annotation, then the controller owner's.
    pod = trainjob_pod()
    del pod["metadata"]["labels"]["jobset.sigs.k8s.io/jobset-uid"]
    assert job_of(pod) == JOB
    del pod["metadata"]["annotations"]["jobset.sigs.k8s.io/jobset-uid"]
    assert job_of(pod) == JobRef("team-local", "tq-7", "job-uid", JOBSET)


def test_a_pytorchjob_label_wins_and_kinds_differ():
    pod = trainjob_pod()
    pod["metadata"]["labels"]["training.kubeflow.org/job-name"] = "pj"
    ref = job_of(pod)
    assert (ref.name, ref.kind) == ("pj", "PyTorchJob")
    assert ref != JobRef("team-local", "pj", "job-uid", JOBSET)


def test_node_rank_comes_from_the_completion_index_annotation():
    for index in (0, 1):
        pod = trainjob_pod(index)
        env = container_env(pod, pod["spec"]["containers"][0])
        assert env["PET_NODE_RANK"] == str(index)
        assert (env["PET_NNODES"], env["PET_NPROC_PER_NODE"]) == ("2", "1")


def test_rewriter_maps_jobset_hosts_with_subdomain_and_domains():
    ports = counter_ports()
    rw = HostRewriter(JOB, lambda p: ports.port(JOB, p))
    cases = {
        "tq-7-node-0-0": "127.0.0.1",
        "tq-7-node-0-1.tq-7": "127.0.0.1",
        "tq-7-node-0-0.tq-7.team-local": "127.0.0.1",
        "tq-7-node-0-0.tq-7.team-local.svc": "127.0.0.1",
        "tq-7-node-0-0.tq-7.team-local.svc.cluster.local:29500": "127.0.0.1:41000",
        "tq-7-dataset-initializer-0-0:29400": "127.0.0.1:41001",
        "tq-7.team-local.svc.cluster.local": "127.0.0.1",  # the headless service
        "tcp://tq-7-node-0-0.tq-7:29500/x": "tcp://127.0.0.1:41000/x",
    }
    for value, expected in cases.items():
        assert rw.text(value) == expected, value
    # Other jobs, look-alikes, other namespaces, the bare name, PyTorchJob hosts and pod names
    # (`<hostname>-<suffix>`, even an all-digit one) are left alone.
    for value in ("tq-70-node-0-0", "xtq-7-node-0-0", "tq-7-node-0-0.tq-7.other-ns",
                  "tq-7", "tq-7-master-0", "tq-7-node-0-0-x7k2q", "tq-7-node-0-0-24567",
                  "tq-7-node-0-0.tq-8"):  # fmt: skip
        assert rw.text(value) == value, value


def test_pytorchjob_rewriter_leaves_jobset_hosts_alone():
    rw = HostRewriter(JobRef("team-local", "tq-7", "u"), lambda p: p + 1)
    assert rw.text("tq-7-node-0-0.tq-7") == "tq-7-node-0-0.tq-7"
    assert rw.text("tq-7-master-0:1") == "127.0.0.1:2"


def test_process_spec_both_nodes_agree_on_master_and_port():
    ports = counter_ports()
    specs = []
    for index in (0, 1):
        pod = trainjob_pod(index)
        specs.append(process_spec(pod, pod["spec"]["containers"][0], ports, {}, "/v/py"))
    (argv0, env0), (argv1, env1) = specs
    assert argv0[0] == "/v/py" and argv1[1:] == ["-m", "trainers.intent_classification",
                                                  "--peer=127.0.0.1:41000"]  # fmt: skip
    assert env0["PET_MASTER_ADDR"] == env1["PET_MASTER_ADDR"] == "127.0.0.1"
    assert env0["PET_MASTER_PORT"] == env1["PET_MASTER_PORT"] == "41000"
    assert (env0["PET_NODE_RANK"], env1["PET_NODE_RANK"]) == ("0", "1")
    assert ports.jobs() == {JOB}
    # A re-created TrainJob of the same name (new JobSet uid) gets a port of its own.
    again = trainjob_pod(0)
    again["metadata"]["labels"]["jobset.sigs.k8s.io/jobset-uid"] = "js-uid-2"
    _, env = process_spec(again, again["spec"]["containers"][0], ports, {}, "/v/py")
    assert env["PET_MASTER_PORT"] == "41001"
