"""5b. Idle cost: CPU of the RQ workers while 10,000 jobs are queued and blocked (their team's
quota is held by one long-running job), against the same workers with nothing queued.

CPU is utime + stime from /proc/<pid>/stat over a fixed window, as a percentage of one core.
"""

import os
import time
from pathlib import Path

import requests

from benchmarks.fill import fill_direct
from benchmarks.stack import LOCAL_CONFIG, BenchStack, job_body, submit

BLOCKING_QUOTA = {"max_running_jobs": 1, "cpu": "1", "memory": "1Gi", "gpu": 0}


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_percent(pids: dict[str, int], window_s: float) -> dict[str, float]:
    before = {name: _cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(window_s)
    return {
        name: round(100 * (_cpu_seconds(pid) - before[name]) / window_s, 2)
        for name, pid in pids.items()
    }


def make_stack(workdir: Path, db: int) -> BenchStack:
    import yaml

    teams = yaml.safe_load(LOCAL_CONFIG.read_text())["teams"]
    teams = [{**t, "quota": BLOCKING_QUOTA} if t["name"] == "alpha" else t for t in teams]
    return BenchStack(workdir, db, teams, {"alpha": "alpha-dev-token", "beta": "beta-dev-token"})


def run(stack: BenchStack, blocked: int, window_s: float, workers: int) -> dict:
    stack.start_watcher()
    stack.start_workers(workers)
    session = requests.Session()
    holder = submit(session, stack.base, "alpha", job_body("holder", "600s"))["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        rec = session.get(f"{stack.base}/v1/teams/alpha/jobs/{holder}", timeout=30,
                          headers={"Authorization": "Bearer alpha-dev-token"}).json()  # fmt: skip
        if rec.get("pytorchjob"):
            break
        time.sleep(0.2)
    else:
        raise RuntimeError("the quota-holding job was not dispatched within 60 s")
    pids = {name: p.pid for name, p in stack.procs.items() if name.startswith("worker-")}
    time.sleep(2)
    idle = _cpu_percent(pids, window_s)
    fill_s = fill_direct(stack, ["alpha"], blocked)
    time.sleep(2)
    loaded = _cpu_percent(pids, window_s)
    rec = session.get(f"{stack.base}/v1/teams/alpha/queue", timeout=120,
                      headers={"Authorization": "Bearer alpha-dev-token"}).json()  # fmt: skip
    still_queued = rec.get("queued")
    stack.stop("worker-")
    mean_idle = sum(idle.values()) / len(idle)
    mean_loaded = sum(loaded.values()) / len(loaded)
    return {
        "blocked_jobs": blocked,
        "still_queued_after": still_queued,
        "fill": f"{blocked} jobs via JobStore.submit in {fill_s:.1f} s",
        "window_s": window_s,
        "worker_cpu_percent_blocked": loaded,
        "worker_cpu_percent_empty": idle,
        "mean_blocked": round(mean_loaded, 2),
        "mean_empty": round(mean_idle, 2),
        "goals": {"worker_cpu_percent": 2},
    }
