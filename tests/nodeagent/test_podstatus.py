"""Kubelet-shaped pod status from container runs: phases, exit codes, restarts, conditions, and
seeding from a previous agent's report."""

from nodeagent.podstatus import (
    RUNNING,
    TERMINATED,
    WAITING,
    ContainerRun,
    PodView,
    exit_code,
    exit_reason,
    phase,
    pod_status,
    restart_backoff,
    runs_from_status,
    should_restart,
)

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def running(name="pytorch"):
    return ContainerRun(name=name, image="img", state=RUNNING, started_at=T0, reason="")


def terminated(code, name="pytorch"):
    return ContainerRun(name=name, image="img", state=TERMINATED, exit_code=code,
                        reason=exit_reason(code), started_at=T0, finished_at=T1)  # fmt: skip


def test_exit_codes_and_reasons_follow_the_runtime_convention():
    assert exit_code(3) == 3 and exit_code(-9) == 137 and exit_code(-15) == 143
    assert exit_reason(0) == "Completed" and exit_reason(3) == "Error"
    assert exit_reason(137) == "Killed"


def test_restart_rules():
    assert should_restart("Always", 0) and should_restart("OnFailure", 1)
    assert not should_restart("OnFailure", 0) and not should_restart("Never", 1)
    assert restart_backoff(0) < restart_backoff(3) <= restart_backoff(100) <= 60


def test_phase():
    assert phase([ContainerRun("a")]) == "Pending"
    assert phase([running(), terminated(0, "b")]) == "Running"
    assert phase([terminated(0), terminated(0, "b")]) == "Succeeded"
    assert phase([terminated(0), terminated(3, "b")]) == "Failed"
    backing_off = ContainerRun("a", state=WAITING, reason="CrashLoopBackOff", restart_count=1)
    assert phase([backing_off]) == "Running"


def test_running_status_has_what_the_operator_and_kubectl_read():
    view = PodView(runs=[running()], init_containers=[{"name": "init-pytorch", "image": "a"}],
                   start_time=T0,
                   previous_conditions=[{"type": "PodScheduled", "status": "True",
                                         "lastTransitionTime": "S"}])  # fmt: skip
    s = pod_status(view, now=T1)
    assert s["phase"] == "Running" and s["startTime"] == T0
    assert s["podIP"] == s["hostIP"] == "127.0.0.1"
    assert s["podIPs"] == [{"ip": "127.0.0.1"}]
    cond = {c["type"]: c for c in s["conditions"]}
    assert {k: c["status"] for k, c in cond.items()} == {
        "PodReadyToStartContainers": "True", "Initialized": "True", "ContainersReady": "True",
        "Ready": "True", "PodScheduled": "True"}  # fmt: skip
    assert cond["PodScheduled"]["lastTransitionTime"] == "S"  # the scheduler's, kept
    (cs,) = s["containerStatuses"]
    assert cs["state"] == {"running": {"startedAt": T0}}
    assert cs["ready"] and cs["started"] and cs["restartCount"] == 0
    (init,) = s["initContainerStatuses"]
    assert init["name"] == "init-pytorch"
    assert init["state"]["terminated"]["exitCode"] == 0


def test_failed_status_carries_exit_code_and_times():
    s = pod_status(PodView(runs=[terminated(3)], start_time=T0), now=T1)
    assert s["phase"] == "Failed"
    t = s["containerStatuses"][0]["state"]["terminated"]
    assert (t["exitCode"], t["reason"], t["startedAt"], t["finishedAt"]) == (3, "Error", T0, T1)
    ready = next(c for c in s["conditions"] if c["type"] == "Ready")
    assert ready["status"] == "False" and ready["reason"] == "PodCompleted"


def test_transition_time_changes_only_with_status():
    first = pod_status(PodView(runs=[running()]), now=T0)["conditions"]
    same = pod_status(PodView(runs=[running()], previous_conditions=first), now=T1)
    assert next(c for c in same["conditions"] if c["type"] == "Ready")["lastTransitionTime"] == T0
    done = pod_status(PodView(runs=[terminated(0)], previous_conditions=first), now=T1)
    assert next(c for c in done["conditions"] if c["type"] == "Ready")["lastTransitionTime"] == T1


def test_restart_backoff_status_shows_last_state():
    run = ContainerRun("pytorch", state=WAITING, reason="CrashLoopBackOff", restart_count=2,
                       last=terminated(1).terminated_state())  # fmt: skip
    cs = run.status()
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert cs["restartCount"] == 2 and not cs["ready"]


def test_runs_from_previous_status_mark_running_containers_lost():
    spec = [{"name": "a", "image": "i"}, {"name": "b", "image": "i"}, {"name": "c", "image": "i"}]
    previous = {"containerStatuses": [
        {"name": "a", "restartCount": 2, "state": {"running": {"startedAt": T0}}},
        {"name": "b", "restartCount": 0, "state": {"terminated": {
            "exitCode": 0, "reason": "Completed", "startedAt": T0, "finishedAt": T1}}},
    ]}  # fmt: skip
    a, b, c = runs_from_status(spec, previous)
    assert (a.state, a.exit_code, a.reason, a.restart_count) == (
        TERMINATED,
        137,
        "ContainerLost",
        2,
    )
    assert (b.state, b.exit_code, b.finished_at) == (TERMINATED, 0, T1)
    assert (c.state, c.restart_count) == (WAITING, 0)
    assert runs_from_status(spec, None)[0].state == WAITING
