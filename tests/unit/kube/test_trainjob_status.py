"""A TrainJob's status read back into the record fields a PyTorchJob's give (status.observe)."""

from queue_workers.kube.status import observe as observe_pytorchjob
from queue_workers.kube.trainjob_status import counts_from_pods, observe
from wrapper.jobs.states import JobStatus

ZERO = {"active": 0, "succeeded": 0, "failed": 0}


def tj(conditions=(), node_job=None, nodes=3, **meta):
    status = {}
    if conditions:
        status["conditions"] = [
            {"type": t, "status": s, "reason": f"R{t}", "message": f"m-{t}",
             "lastTransitionTime": f"2026-01-01T00:00:0{i}Z"}
            for i, (t, s) in enumerate(conditions)
        ]  # fmt: skip
    if node_job is not None:
        status["jobsStatus"] = [{"name": "node", "ready": 0, "succeeded": 0, "failed": 0,
                                 "active": 0, "suspended": 0, **node_job}]  # fmt: skip
    return {
        "metadata": {"name": "tq-9", "namespace": "team-alpha",
                     "creationTimestamp": "2026-01-01T00:00:00Z", **meta},
        "spec": {"trainer": {"numNodes": nodes}},
        "status": status,
    }  # fmt: skip


def pod(index, phase, start="2026-01-01T00:00:03Z", rjob="node", deleting=False):
    meta = {"labels": {"batch.kubernetes.io/job-completion-index": str(index),
                       "jobset.sigs.k8s.io/replicatedjob-name": rjob}}  # fmt: skip
    if deleting:
        meta["deletionTimestamp"] = "2026-01-01T00:00:09Z"
    return {"metadata": meta, "status": {"phase": phase, "startTime": start}}


def test_same_fields_as_a_pytorchjobs_observation():
    ours = observe(tj()).fields
    theirs = observe_pytorchjob({"metadata": {"name": "tq-9", "namespace": "team-alpha"}}).fields
    assert set(ours) - {"backend"} == set(theirs)
    assert ours["backend"] == "trainjob"


def test_new_trainjob_without_status_is_created():
    obs = observe({"metadata": {"name": "tq-9", "namespace": "team-alpha"}})
    assert obs.status == JobStatus.CREATED
    assert obs.fields["pytorchjob"] == {"namespace": "team-alpha", "name": "tq-9"}
    assert obs.fields["replicas"] == {"Master": ZERO, "Worker": ZERO}
    assert obs.fields["conditions"] == [] and obs.fields["reason"] is None
    assert obs.fields["started_at"] is None and obs.fields["finished_at"] is None


def test_running_from_the_jobset_counts():
    obs = observe(tj(node_job={"active": 1, "ready": 1}))
    assert obs.status == JobStatus.RUNNING
    assert obs.fields["replicas"] == {
        "Master": {"active": 1, "succeeded": 0, "failed": 0},
        "Worker": {"active": 2, "succeeded": 0, "failed": 0},
    }
    assert obs.fields["started_at"] == "2026-01-01T00:00:00Z"
    assert obs.fields["finished_at"] is None


def test_exact_counts_from_the_pods():
    pods = [pod(0, "Running", "2026-01-01T00:00:04Z"), pod(1, "Running"), pod(2, "Pending", None),
            pod(2, "Failed"), pod(1, "Running", deleting=True),
            pod(0, "Succeeded", rjob="dataset-initializer")]  # fmt: skip
    assert counts_from_pods(pods) == {
        "Master": {"active": 1, "succeeded": 0, "failed": 0},
        "Worker": {"active": 2, "succeeded": 0, "failed": 1},
    }
    obs = observe(tj(node_job={"active": 1}), pods=pods)
    assert obs.status == JobStatus.RUNNING
    assert obs.fields["started_at"] == "2026-01-01T00:00:03Z"  # the earliest pod start


def test_complete_is_succeeded_with_its_time():
    obs = observe(tj([("Suspended", "False"), ("Complete", "True")], {"succeeded": 1}))
    assert obs.status == JobStatus.SUCCEEDED
    assert obs.fields["replicas"]["Master"] == {"active": 0, "succeeded": 1, "failed": 0}
    assert obs.fields["replicas"]["Worker"] == {"active": 0, "succeeded": 2, "failed": 0}
    assert obs.fields["finished_at"] == "2026-01-01T00:00:01Z"
    assert obs.fields["reason"] == "RComplete" and obs.fields["message"] == "m-Complete"
    assert obs.fields["conditions"][1] == {
        "type": "Complete", "status": "True", "reason": "RComplete", "message": "m-Complete",
        "last_transition_time": "2026-01-01T00:00:01Z",
    }  # fmt: skip


def test_failed_wins_and_carries_the_reason():
    obs = observe(tj([("Complete", "False"), ("Failed", "True")], {"failed": 1}, nodes=1))
    assert obs.status == JobStatus.FAILED
    assert obs.fields["replicas"] == {"Master": {"active": 0, "succeeded": 0, "failed": 1},
                                      "Worker": ZERO}  # fmt: skip
    assert obs.fields["finished_at"] == "2026-01-01T00:00:01Z"
    assert obs.fields["reason"] == "RFailed"


def test_suspended_is_still_created():
    obs = observe(tj([("Suspended", "True")], {"suspended": 1}))
    assert obs.status == JobStatus.CREATED
    assert obs.fields["reason"] == "RSuspended"
    resumed = observe(tj([("Suspended", "False")], {"active": 1, "ready": 1}))
    assert resumed.status == JobStatus.RUNNING and resumed.fields["reason"] == "RSuspended"


def test_an_active_job_whose_pods_are_not_all_ready_counts_none_running():
    """A Job is active from its first Pending pod: the gang is not running until it is ready."""
    obs = observe(tj(node_job={"active": 1, "ready": 0}))
    assert obs.status == JobStatus.CREATED
    assert obs.fields["replicas"] == {"Master": ZERO, "Worker": ZERO}


def test_a_restarted_jobset_is_restarting():
    obs = observe(tj(node_job={"active": 1, "ready": 1}), jobset={"status": {"restarts": 1}})
    assert obs.status == JobStatus.RESTARTING
    done = observe(tj([("Complete", "True")], {"succeeded": 1}), jobset={"status": {"restarts": 1}})
    assert done.status == JobStatus.SUCCEEDED


def test_other_replicated_jobs_do_not_count():
    obj = tj(node_job={"active": 0})
    obj["status"]["jobsStatus"].append({"name": "dataset-initializer", "active": 1})
    obs = observe(obj)
    assert obs.status == JobStatus.CREATED
    assert obs.fields["replicas"] == {"Master": ZERO, "Worker": ZERO}


def test_a_failed_pod_awaiting_its_replacement_is_restarting():
    """The node's Job retries (its backoffLimit not reached) after a backoff with no pod."""
    failed = [pod(0, "Failed"), pod(1, "Failed")]
    obs = observe(tj(node_job={"active": 0}, nodes=2), pods=failed)
    assert obs.status == JobStatus.RESTARTING
    replaced = observe(tj(node_job={"active": 1}, nodes=2), pods=[*failed, pod(0, "Running")])
    assert replaced.status == JobStatus.RUNNING
    gave_up = observe(tj([("Failed", "True")], {"failed": 1}, nodes=2), pods=failed)
    assert gave_up.status == JobStatus.FAILED
