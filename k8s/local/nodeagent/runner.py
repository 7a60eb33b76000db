"""One pod's life on this node: its containers as local process groups, restarts in place under
restartPolicy OnFailure/Always (like the kubelet, with a back-off), status reports through
pods/status after every change, and on deletion SIGTERM -> grace period -> SIGKILL followed by
the grace-0 delete that lets the API object go.

One thread per pod consumes events (a container exited, a restart is due, stop) so the pod's
state has a single writer; one small waiter thread per process turns Popen.wait into an event."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes import client
from kubernetes.client.rest import ApiException

from .envrewrite import JobPorts, SourceLookup, host_path, process_spec
from .layout import Layout
from .podstatus import (
    RUNNING,
    TERMINATED,
    WAITING,
    ContainerRun,
    PodView,
    exit_code,
    exit_reason,
    now_rfc3339,
    pod_status,
    restart_backoff,
    runs_from_status,
    should_restart,
)
from .volumes import ClaimDir, VolumeError, container_mounts

log = logging.getLogger(__name__)
# API answers meaning "this pod object is gone or is another pod now": stop talking to it.
GONE = (404, 409, 422)


@dataclass
class RunnerContext:
    api: client.CoreV1Api
    layout: Layout
    ports: JobPorts
    workdir: Path
    python: str
    base_env: Mapping[str, str]
    pod_ip: str = "127.0.0.1"
    lookup: SourceLookup | None = None
    # Where a claim's data lives on this host (volumes.ClaimDirs); None: under layout.claims.
    claim_dir: ClaimDir | None = None
    on_done: Callable[[PodRunner], None] = field(default=lambda runner: None)


def grace_seconds(pod: Mapping) -> float:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    grace = meta.get("deletionGracePeriodSeconds")
    if grace is None:
        grace = spec.get("terminationGracePeriodSeconds", 30)
    return float(grace)


class PodRunner(threading.Thread):
    def __init__(self, pod: Mapping, ctx: RunnerContext):
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.pod, self.ctx = pod, ctx
        self.namespace, self.pod_name, self.uid = meta["namespace"], meta["name"], meta["uid"]
        self.policy = pod["spec"].get("restartPolicy", "Always")
        self.specs = {c["name"]: c for c in pod["spec"]["containers"]}
        self.events: queue.Queue = queue.Queue()
        self.procs: dict[str, subprocess.Popen] = {}
        self.timers: dict[str, threading.Timer] = {}
        self.runs: dict[str, ContainerRun] = {}
        self.conditions = list((pod.get("status") or {}).get("conditions") or [])
        self.start_time = (pod.get("status") or {}).get("startTime") or now_rfc3339()
        self.stop_requested = False

    # --- called from other threads
    def request_stop(self, grace: float, delete: bool) -> None:
        self.stop_requested = True
        self.events.put(("stop", grace, delete))

    def is_running(self, container: str) -> bool:
        proc = self.procs.get(container)
        return proc is not None and proc.poll() is None

    # --- the pod's thread
    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("pod %s/%s: runner crashed", self.namespace, self.pod_name)
            self._terminate(0)
        finally:
            self.ctx.on_done(self)

    def _run(self) -> None:
        previous = self.pod.get("status") or {}
        for run in runs_from_status(self.pod["spec"]["containers"], previous):
            self.runs[run.name] = run
        for run in self.runs.values():
            if self.stop_requested:  # deleted before we got going: start nothing
                break
            if run.state == WAITING:
                self._start(run)
            elif run.reason == "ContainerLost" and should_restart(self.policy, run.exit_code):
                self._schedule_restart(run)
        self._report()
        while True:
            kind, *args = self.events.get()
            if kind == "exit":
                name, proc, returncode = args
                if self.procs.get(name) is not proc:
                    continue
                self._on_exit(self.runs[name], returncode)
            elif kind == "restart":
                if self.stop_requested:
                    continue
                self._start(self.runs[args[0]])
            elif kind == "stop":
                grace, delete = args
                self._terminate(grace)
                if delete:
                    self._delete_pod()
                return
            self._report()

    def _start(self, run: ContainerRun) -> None:
        spec = self.specs[run.name]
        claims = self.ctx.claim_dir or (lambda ns, claim: self.ctx.layout.claims / ns / claim)
        try:
            mounts = container_mounts(self.pod, spec, claims)
            for mount in mounts:
                mount.host.mkdir(parents=True, exist_ok=True)
            argv, env = process_spec(
                self.pod,
                spec,
                self.ctx.ports,
                self.ctx.base_env,
                self.ctx.python,
                self.ctx.lookup,
                self.ctx.pod_ip,
                mounts,
            )
        except (ValueError, VolumeError, OSError) as exc:
            self._failed_start(run, str(exc))
            return
        logfile = self.ctx.layout.container_log(self.namespace, self.pod_name, self.uid, run.name)
        logfile.parent.mkdir(parents=True, exist_ok=True)
        if run.restart_count > 0 and logfile.exists():
            prev = self.ctx.layout.previous_log(self.namespace, self.pod_name, self.uid, run.name)
            logfile.replace(prev)  # `kubectl logs --previous` reads it
        # An image's workingDir rarely exists on this host; use it only when it does.
        workdir = Path(host_path(spec.get("workingDir") or "", mounts) or self.ctx.workdir)
        if not workdir.is_dir():
            workdir = self.ctx.workdir
        try:
            with open(logfile, "ab") as out:
                # Own session: the whole tree (torchrun's children too) is one group to signal.
                proc = subprocess.Popen(
                    argv,
                    cwd=workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        except OSError as exc:
            self._failed_start(run, f"{argv[0]}: {exc.strerror or exc}")
            return
        log.info("pod %s/%s: started %s pid %d: %s", self.namespace, self.pod_name, run.name,
                 proc.pid, " ".join(argv).replace("\n", "\\n")[:200])  # fmt: skip
        self.procs[run.name] = proc
        run.state, run.reason, run.message = RUNNING, "", ""
        run.started_at, run.finished_at, run.exit_code = now_rfc3339(), None, None
        run.container_id = f"nodeagent://{self.uid}/{run.name}/{proc.pid}"
        threading.Thread(
            target=lambda: self.events.put(("exit", run.name, proc, proc.wait())),
            name=f"wait-{proc.pid}",
            daemon=True,
        ).start()
        self._save_record()

    def _failed_start(self, run: ContainerRun, message: str) -> None:
        # 127 ("command not found"), not the runtime's retryable 128: under restartPolicy ExitCode
        # the operator would otherwise re-create a pod that can never start, forever.
        log.warning("pod %s/%s: cannot start %s: %s", self.namespace, self.pod_name, run.name,
                    message)  # fmt: skip
        run.started_at = run.finished_at = now_rfc3339()
        self._terminated(run, 127, "StartError", message)

    def _on_exit(self, run: ContainerRun, returncode: int) -> None:
        # Like the kubelet tearing down the container's cgroup: nothing of it outlives it.
        self._kill_group(self.procs[run.name].pid, signal.SIGKILL)
        run.finished_at = now_rfc3339()
        code = exit_code(returncode)
        log.info("pod %s/%s: %s exited %d", self.namespace, self.pod_name, run.name, code)
        self._terminated(run, code, exit_reason(code), "")

    def _terminated(self, run: ContainerRun, code: int, reason: str, message: str) -> None:
        run.state, run.exit_code, run.reason, run.message = TERMINATED, code, reason, message
        if not self.stop_requested and should_restart(self.policy, code):
            self._schedule_restart(run)

    def _schedule_restart(self, run: ContainerRun) -> None:
        delay = restart_backoff(run.restart_count)
        run.last = run.terminated_state()
        run.restart_count += 1
        run.state, run.reason = WAITING, "CrashLoopBackOff"
        run.message = f"back-off {delay:g}s restarting failed container={run.name}"
        timer = threading.Timer(delay, self.events.put, args=(("restart", run.name),))
        timer.daemon = True
        self.timers[run.name] = timer
        timer.start()

    def _terminate(self, grace: float) -> None:  # (not _stop: threading.Thread has one)
        self.stop_requested = True
        for timer in self.timers.values():
            timer.cancel()
        live = [p for p in self.procs.values() if p.poll() is None]
        for proc in live:
            self._kill_group(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in live:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        for proc in live:  # exited containers' groups were already cleared in _on_exit
            self._kill_group(proc.pid, signal.SIGKILL)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        self.ctx.layout.pod_record(self.uid).unlink(missing_ok=True)
        if live:
            log.info("pod %s/%s: stopped %d process(es)", self.namespace, self.pod_name, len(live))

    @staticmethod
    def _kill_group(pgid: int, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)

    def _delete_pod(self) -> None:
        # The kubelet's last word: grace 0 lets the apiserver drop the object. The uid
        # precondition keeps us off a re-created pod that reuses the name.
        body = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=self.uid)
        )
        try:
            self.ctx.api.delete_namespaced_pod(self.pod_name, self.namespace, body=body)
        except ApiException as exc:
            if exc.status not in GONE:
                log.warning("pod %s/%s: delete failed: %s", self.namespace, self.pod_name, exc)

    def _report(self) -> None:
        view = PodView(
            runs=list(self.runs.values()),
            init_containers=self.pod["spec"].get("initContainers") or [],
            start_time=self.start_time,
            pod_ip=self.ctx.pod_ip,
            previous_conditions=self.conditions,
        )
        status = pod_status(view)
        # metadata.uid in the patch makes the apiserver refuse it for a same-named new pod.
        body = {"metadata": {"uid": self.uid}, "status": status}
        for attempt in range(5):
            try:
                self.ctx.api.patch_namespaced_pod_status(self.pod_name, self.namespace, body)
                self.conditions = status["conditions"]
                return
            except ApiException as exc:
                if exc.status in GONE:
                    log.info("pod %s/%s: status not written (%s)", self.namespace,
                             self.pod_name, exc.status)  # fmt: skip
                    return
                log.warning("pod %s/%s: status patch failed: %s", self.namespace,
                            self.pod_name, exc)  # fmt: skip
            except Exception as exc:  # noqa: BLE001 - connection trouble: retry
                log.warning("pod %s/%s: status patch failed: %s", self.namespace,
                            self.pod_name, exc)  # fmt: skip
            time.sleep(1 + attempt)

    def _save_record(self) -> None:
        """Which processes this pod owns, so a restarted agent can kill what it cannot adopt."""
        record = {
            "namespace": self.namespace,
            "name": self.pod_name,
            "boot_id": boot_id(),
            "processes": [
                {"container": n, "pid": p.pid, "start_ticks": start_ticks(p.pid)}
                for n, p in self.procs.items()
                if p.poll() is None
            ],
        }
        path = self.ctx.layout.pod_record(self.uid)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        tmp.replace(path)


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _stat(pid: int | str) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after the command name, which may itself contain spaces and parentheses.
    return raw.rsplit(")", 1)[1].split()


def start_ticks(pid: int) -> int:
    fields = _stat(pid)
    return int(fields[19]) if fields else 0


def kill_leftovers(record_path: Path) -> int:
    """SIGKILLs the processes a previous agent recorded for a pod: every process still in the
    recorded session that started no earlier than its leader (so a recycled pid is left alone).
    Returns how many were killed."""
    try:
        record = json.loads(record_path.read_text())
    except (OSError, ValueError):
        return 0
    if record.get("boot_id") != boot_id():
        return 0
    killed = 0
    for entry in record.get("processes", []):
        sid, since = entry["pid"], entry["start_ticks"]
        for proc_dir in Path("/proc").iterdir():
            if not proc_dir.name.isdigit():
                continue
            fields = _stat(proc_dir.name)
            if fields and int(fields[3]) == sid and int(fields[19]) >= since:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(int(proc_dir.name), signal.SIGKILL)
                    killed += 1
    return killed
