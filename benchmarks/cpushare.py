"""Where the CPU of a dispatch window goes: milliseconds of CPU per PyTorchJob made, by role,
read from /proc at the window's first and last ADDED event (the same window as the rate).

On a machine where the control plane, Redis, trainq and the load all share two cores, a
dispatch rate is bounded by the CPU each job costs the whole machine; the raw loop's rate
divided by trainq's is then about the ratio of those totals, and this breakdown shows which
process's share makes the difference."""

import os
from pathlib import Path

from benchmarks.jobwatch import trees_cpu_seconds
from benchmarks.stack import REPO

# The local control plane's processes (k8s/local/cluster-up.sh writes their pid files).
CONTROL_PLANE = ("kube-apiserver", "etcd", "training-operator", "kube-controller-manager",
                 "kube-scheduler", "kwok")  # fmt: skip


def control_plane_pids() -> dict[str, list[int]]:
    run = Path(os.environ.get("TRAINQ_RUN", REPO / ".local/run"))
    out = {}
    for name in (*CONTROL_PLANE, "redis"):
        try:
            out[name] = [int((run / f"{name}.pid").read_text().strip())]
        except (OSError, ValueError):
            continue
    return out


class CpuMeter:
    """CPU-seconds so far of named groups of processes, each with its descendants (gunicorn's
    workers under its arbiter)."""

    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups

    def read(self) -> dict[str, float]:
        return trees_cpu_seconds(self.groups)


def per_job(first: dict[str, float], last: dict[str, float], seconds: float,
            jobs: int) -> dict:  # fmt: skip
    """ms of CPU per job by group between two readings, the total, and the cores in use."""
    if jobs < 1 or seconds <= 0:
        return {}
    ms = {name: round((last[name] - first.get(name, 0.0)) * 1000 / jobs, 2) for name in last}
    total = sum(ms.values())
    return {"ms_per_job": ms, "total_ms_per_job": round(total, 1),
            "cores_busy": round(total * jobs / 1000 / seconds, 2)}  # fmt: skip
