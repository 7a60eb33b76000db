from queue_workers.kube.status import observe
from wrapper.jobs.states import JobStatus


def cr(conditions=(), replicas=None, **status):
    return {
        "metadata": {"name": "tq-9", "namespace": "team-alpha"},
        "status": {
            "conditions": [
                {"type": t, "status": s, "reason": f"PyTorchJob{t}", "message": f"m-{t}",
                 "lastTransitionTime": f"2026-01-01T00:00:0{i}Z"}
                for i, (t, s) in enumerate(conditions)
            ],
            "replicaStatuses": replicas or {},
            **status,
        },
    }  # fmt: skip


def test_new_pytorchjob_without_status_is_created():
    obs = observe({"metadata": {"name": "tq-9", "namespace": "team-alpha"}})
    assert obs.status == JobStatus.CREATED
    assert obs.fields["pytorchjob"] == {"namespace": "team-alpha", "name": "tq-9"}
    assert obs.fields["replicas"]["Master"] == {"active": 0, "succeeded": 0, "failed": 0}
    assert obs.fields["conditions"] == [] and obs.fields["reason"] is None


def test_running_with_replica_counts():
    obs = observe(
        cr([("Created", "True"), ("Running", "True")],
           {"Master": {"active": 1}, "Worker": {"active": 2, "selector": "x"}},
           startTime="2026-01-01T00:00:05Z")
    )  # fmt: skip
    assert obs.status == JobStatus.RUNNING
    assert obs.fields["replicas"] == {
        "Master": {"active": 1, "succeeded": 0, "failed": 0},
        "Worker": {"active": 2, "succeeded": 0, "failed": 0},
    }
    assert obs.fields["started_at"] == "2026-01-01T00:00:05Z"
    assert obs.fields["finished_at"] is None
    assert obs.fields["reason"] == "PyTorchJobRunning"
    assert obs.fields["conditions"][1] == {
        "type": "Running", "status": "True", "reason": "PyTorchJobRunning",
        "message": "m-Running", "last_transition_time": "2026-01-01T00:00:01Z",
    }  # fmt: skip


def test_restarting_replaces_running():
    obs = observe(cr([("Created", "True"), ("Running", "False"), ("Restarting", "True")]))
    assert obs.status == JobStatus.RESTARTING


def test_succeeded_with_completion_time():
    obs = observe(
        cr([("Created", "True"), ("Running", "False"), ("Succeeded", "True")],
           {"Master": {"succeeded": 1}, "Worker": {"succeeded": 2}},
           completionTime="2026-01-01T00:01:00Z")
    )  # fmt: skip
    assert obs.status == JobStatus.SUCCEEDED
    assert obs.fields["finished_at"] == "2026-01-01T00:01:00Z"
    assert obs.fields["replicas"]["Worker"]["succeeded"] == 2


def test_failed_carries_the_operator_message_and_time():
    obs = observe(cr([("Created", "True"), ("Running", "False"), ("Failed", "True")],
                     {"Master": {"failed": 1}}))  # fmt: skip
    assert obs.status == JobStatus.FAILED
    assert obs.fields["message"] == "m-Failed"
    assert obs.fields["finished_at"] == "2026-01-01T00:00:02Z"


def test_suspended_stays_created():
    obs = observe(cr([("Created", "True"), ("Suspended", "True")]))
    # Suspended is True but not one trainq maps; the job is still just created.
    assert obs.status == JobStatus.CREATED
