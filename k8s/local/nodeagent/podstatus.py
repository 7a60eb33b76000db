"""A pod's status shaped as the kubelet reports it, built from what the runner knows about each
container. Pure: the training operator reads phase, container states/exit codes and restart
counts, so getting these shapes right is what moves a PyTorchJob to Running, Succeeded, Failed
or Restarting."""

from __future__ import annotations

import signal
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

WAITING, RUNNING, TERMINATED = "waiting", "running", "terminated"
RESTART_BACKOFF_S = (2, 4, 8, 16, 30, 60)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def exit_code(returncode: int) -> int:
    """Popen reports death by signal as -N; container runtimes report 128+N."""
    return 128 - returncode if returncode < 0 else returncode


def exit_reason(code: int) -> str:
    if code == 0:
        return "Completed"
    if code == 128 + signal.SIGKILL:
        return "Killed"
    return "Error"


def should_restart(policy: str, code: int) -> bool:
    """The kubelet's rule for restarting an exited container in place."""
    return policy == "Always" or (policy == "OnFailure" and code != 0)


def restart_backoff(restart_count: int) -> float:
    # Shorter than the kubelet's 10s..5min: a local developer loop wants a quick retry.
    return RESTART_BACKOFF_S[min(restart_count, len(RESTART_BACKOFF_S) - 1)]


@dataclass
class ContainerRun:
    """What the runner knows about one container: its current state and the last ended run."""

    name: str
    image: str = ""
    state: str = WAITING
    reason: str = "ContainerCreating"
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    exit_code: int | None = None
    restart_count: int = 0
    last: dict | None = None  # the previous run's {"terminated": {...}}, as the kubelet keeps
    container_id: str = ""

    def terminated_state(self) -> dict:
        t = {
            "exitCode": self.exit_code,
            "reason": self.reason,
            "startedAt": self.started_at,
            "finishedAt": self.finished_at,
            "containerID": self.container_id,
        }
        if self.message:
            t["message"] = self.message
        return {"terminated": t}

    def state_dict(self) -> dict:
        if self.state == RUNNING:
            return {"running": {"startedAt": self.started_at}}
        if self.state == TERMINATED:
            return self.terminated_state()
        w = {"reason": self.reason}
        if self.message:
            w["message"] = self.message
        return {"waiting": w}

    def status(self) -> dict:
        s = {
            "name": self.name,
            "image": self.image,
            "imageID": "",
            "state": self.state_dict(),
            "lastState": self.last or {},
            "ready": self.state == RUNNING,
            "started": self.state == RUNNING,
            "restartCount": self.restart_count,
        }
        if self.container_id:
            s["containerID"] = self.container_id
        return s


@dataclass
class PodView:
    """Inputs to a pod status: the containers' runs plus what stays fixed for the pod."""

    runs: list[ContainerRun]
    init_containers: list[Mapping] = field(default_factory=list)
    start_time: str = ""
    pod_ip: str = "127.0.0.1"
    previous_conditions: list[Mapping] = field(default_factory=list)


def phase(runs: Iterable[ContainerRun]) -> str:
    runs = list(runs)
    if any(r.state == RUNNING for r in runs):
        return "Running"
    if runs and all(r.state == TERMINATED for r in runs):
        return "Succeeded" if all(r.exit_code == 0 for r in runs) else "Failed"
    # Waiting: either never started (Pending) or between in-place restarts (Running).
    if any(r.restart_count > 0 or r.state == TERMINATED for r in runs):
        return "Running"
    return "Pending"


def conditions(view: PodView, pod_phase: str, now: str) -> list[dict]:
    """Kubelet-owned conditions merged into the previous list; lastTransitionTime changes only
    when a condition's status does (other writers' conditions, e.g. PodScheduled, are kept)."""
    all_running = all(r.state == RUNNING for r in view.runs)
    terminal = pod_phase in ("Succeeded", "Failed")
    ready_reason = "PodCompleted" if terminal else "ContainersNotReady"
    ours = {
        "PodReadyToStartContainers": ("True", ""),
        "Initialized": ("True", ""),
        "ContainersReady": ("True", "") if all_running else ("False", ready_reason),
        "Ready": ("True", "") if all_running else ("False", ready_reason),
        "PodScheduled": ("True", ""),
    }
    previous = {c["type"]: c for c in view.previous_conditions}
    out = [dict(c) for c in view.previous_conditions if c["type"] not in ours]
    for ctype, (status, reason) in ours.items():
        prev = previous.get(ctype)
        if prev and prev.get("status") == status and ctype == "PodScheduled":
            out.append(dict(prev))
            continue
        cond = {"type": ctype, "status": status, "lastProbeTime": None}
        cond["lastTransitionTime"] = (
            prev.get("lastTransitionTime") or now if prev and prev.get("status") == status else now
        )
        if reason:
            cond["reason"] = reason
        out.append(cond)
    return out


def pod_status(view: PodView, now: str | None = None) -> dict:
    """The `status` of a pods/status patch. Init containers are reported as completed at the
    pod's start: the operator's name-lookup init container has nothing to wait for here."""
    now = now or now_rfc3339()
    pod_phase = phase(view.runs)
    start = view.start_time or now
    inits = [
        {
            "name": c["name"],
            "image": c.get("image", ""),
            "imageID": "",
            "state": {
                "terminated": {
                    "exitCode": 0,
                    "reason": "Completed",
                    "startedAt": start,
                    "finishedAt": start,
                }
            },
            "lastState": {},
            "ready": True,
            "started": False,
            "restartCount": 0,
        }
        for c in view.init_containers
    ]
    status = {
        "phase": pod_phase,
        "conditions": conditions(view, pod_phase, now),
        "hostIP": "127.0.0.1",
        "hostIPs": [{"ip": "127.0.0.1"}],
        "podIP": view.pod_ip,
        "podIPs": [{"ip": view.pod_ip}],
        "startTime": start,
        "containerStatuses": [r.status() for r in view.runs],
        "initContainerStatuses": inits,
    }
    return status


def runs_from_status(
    spec_containers: list[Mapping], previous: Mapping | None
) -> list[ContainerRun]:
    """ContainerRuns for a pod, seeded from its last reported status so a restarted agent keeps
    restart counts and finished containers. A container reported running has no process any
    more (this agent did not start it): it is marked lost, exit 137, like a killed container."""
    by_name = {s["name"]: s for s in (previous or {}).get("containerStatuses") or []}
    runs = []
    for c in spec_containers:
        run = ContainerRun(name=c["name"], image=c.get("image", ""))
        prev = by_name.get(c["name"])
        if prev:
            run.restart_count = prev.get("restartCount", 0)
            run.last = prev.get("lastState") or None
            state = prev.get("state") or {}
            if "terminated" in state:
                t = state["terminated"]
                run.state, run.exit_code = TERMINATED, t.get("exitCode", 0)
                run.reason, run.message = t.get("reason", ""), t.get("message", "")
                run.started_at, run.finished_at = t.get("startedAt"), t.get("finishedAt")
                run.container_id = t.get("containerID", "")
            elif "running" in state:
                run.state, run.exit_code = TERMINATED, 128 + signal.SIGKILL
                run.reason = "ContainerLost"
                run.message = "the node agent restarted and no longer had this process"
                run.started_at = state["running"].get("startedAt")
                run.finished_at = now_rfc3339()
                run.container_id = prev.get("containerID", "")
        runs.append(run)
    return runs
