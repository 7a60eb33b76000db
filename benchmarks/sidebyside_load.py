"""6 (continued). Workloads 2 and 3 of the side by side with Kueue (issue 19), through the same
two sides as benchmarks/sidebyside.py (same measurement: PyTorchJob watch events, CPU-seconds of
trainq's processes vs Kueue's controller), and `run()`, which runs all four.

2. Mixed shapes (benchmarks/packing.py's workload and sampling): MIXED_JOBS gang jobs of 1/2/4/8
   gpus per replica and 1-4 replicas, alternately alpha's and beta's, all submitted at once onto
   NODES kwok nodes of 8 gpus. Each team's nominal gpu quota is half the pool and it may borrow
   the other half (no preemption), so quota alone never stops a job the pool has room for in
   sum. Every 0.5 s the pods are listed: utilisation = gpu-seconds of jobs with every replica
   Running / gpu-seconds of the pool while some job waits; half-placed = a job with pods Running
   while a sibling is Pending unscheduled for more than 5 s. trainq: placement-true admission with
   the packing benchmark's head-of-line bound (10 s) and each job's declared time limit (its run
   time x 1.25 + 10 s, which trainq uses for backfill; Kueue gets none: it has no use for one).
   Kueue: its defaults (quota-only admission, no waitForPodsReady).
3. Steady stream: STREAM_JOBS one-gpu jobs (RUN_FOR s each), alpha, beta and gamma in turn, at
   RATE a second, onto NODES x 8 gpus, faster than the pool drains them (saturation). Weights
   1/1/2; nominal gpu quotas in the same ratio (a quarter, a quarter, half of the pool), each
   team may borrow the rest; reclaim and within-team preemption as the seed example. Admission
   latency = submission to the PyTorchJob created (trainq) / unsuspended (Kueue), queueing
   included; admissions/s from the first admission to the last; Jain's index of (gpus admitted
   / weight) over the 0.25 s instants at which every team has jobs waiting, averaged.
"""

import time
from pathlib import Path

from kubernetes import client, config

from benchmarks import kueue as kq
from benchmarks.fairness import jain
from benchmarks.packing import GPUS_PER_NODE, observe, workload
from benchmarks.sidebyside import (
    measured,
    reclaim,
    reclaim_teams,
    run_kueue,
    run_trainq,
    seed_example,
    seed_teams,
    summary,
)
from benchmarks.stack import kubeconfig

STREAM_WEIGHTS = {"alpha": 1, "beta": 1, "gamma": 2}
SATURATION_STEP_S = 0.25
GRACE = 5  # as the reclaim benchmark's trainq config (dispatch.termination_grace_seconds)
WORKLOADS = ("seed", "mixed", "stream", "reclaim")
PACKING_ADMISSION = {"placement": "nodes", "head_wait_seconds": 10.0}


def _with_gpus(team: dict, nominal: int, borrow: int, preemption: dict | None = None) -> dict:
    t = {**team, "quota": {"max_running_jobs": 10_000, "cpu": "10000", "memory": "80Ti",
                           "gpu": nominal},
         "borrowing_limit": {"gpu": borrow}}  # fmt: skip
    if preemption is not None:
        t["preemption"] = preemption
    return t


def mixed_teams(nodes: int) -> list[dict]:
    """alpha and beta: half the pool each, the other half borrowable, no preemption."""
    half = nodes * GPUS_PER_NODE // 2
    never = {"reclaim": "Never", "within_team": "Never", "min_runtime_seconds": 0}
    return [_with_gpus(t, half, half, never) for t in seed_teams()[:2]]


def stream_teams(nodes: int) -> list[dict]:
    """alpha, beta, gamma weighted 1/1/2 with nominal gpu quotas in that ratio, the rest of
    the pool borrowable (seed_teams' preemption)."""
    pool, total = nodes * GPUS_PER_NODE, sum(STREAM_WEIGHTS.values())
    out = []
    for t in seed_teams():
        w = STREAM_WEIGHTS[t["name"]]
        nominal = pool * w // total
        out.append({**_with_gpus(t, nominal, pool - nominal), "weight": w})
    return out


# --- workload 2 ----------------------------------------------------------------------------
def mixed(side, shapes, nodes: int, timeout: float) -> dict:
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig()))

    def body() -> dict:
        ids, t0 = {}, time.monotonic()
        for i, (team, gpu, replicas, run_for) in enumerate(shapes):
            limit = int(run_for[:-1]) * 5 // 4 + 10
            ids[side.submit(team, f"pack-{i}", gpu, run_for, replicas, limit)] = replicas
        submit_s = time.monotonic() - t0
        out = observe(core, side.pod_selector, side.pod_job, ids, nodes * GPUS_PER_NODE, timeout)
        if out["finished"] < out["jobs"]:
            raise RuntimeError(f"{out['finished']} of {out['jobs']} jobs ended in {timeout}s")
        return {**out, "submit_s": round(submit_s, 2)}

    return measured(side, body)


# --- workload 3 ----------------------------------------------------------------------------
def _waiting(job: dict, t: float) -> bool:
    return job["submitted"] <= t and (job["started"] is None or job["started"] > t)


def stream_figures(jobs: list[dict], weights: dict[str, float],
                   step: float = SATURATION_STEP_S) -> dict:  # fmt: skip
    """jobs: {"team", "submitted", "started", "spans": [[from, to or None], ...], "gpus"}.
    Admission latency, admissions/s, and Jain's index of gpus admitted / weight averaged over
    the instants (every `step` s) at which every team has a job submitted and not yet admitted;
    also each team's mean share of the admitted gpus at those instants."""
    lat = [j["started"] - j["submitted"] for j in jobs if j["started"] is not None]
    starts = sorted(j["started"] for j in jobs if j["started"] is not None)
    rate = (len(starts) - 1) / (starts[-1] - starts[0]) if len(starts) > 1 else None
    ends = [s[1] for j in jobs for s in j["spans"] if s[1] is not None] + starts
    t, last = min(j["submitted"] for j in jobs), max(ends, default=0.0)
    teams = sorted(weights)
    indices, shares = [], dict.fromkeys(teams, 0.0)
    while t <= last:
        queued = {j["team"] for j in jobs if _waiting(j, t)}
        if len(queued) == len(teams):
            use = dict.fromkeys(teams, 0.0)
            for j in jobs:
                if any(a <= t and (b is None or b > t) for a, b in j["spans"]):
                    use[j["team"]] += j["gpus"]
            indices.append(jain([use[n] / weights[n] for n in teams]))
            total = sum(use.values()) or 1.0
            for n in teams:
                shares[n] += use[n] / total
        t += step
    return {**summary(lat), "admitted": len(starts),
            "admissions_per_s": round(rate, 2) if rate else None,
            "jain_mean": round(sum(indices) / len(indices), 3) if indices else None,
            "saturated_s": round(len(indices) * step, 1),
            "share_saturated": {n: round(shares[n] / len(indices), 3) if indices else None
                                for n in teams}}  # fmt: skip


def stream(side, count: int, rate: float, run_for: int, timeout: float) -> dict:
    w = side.watch
    teams = list(STREAM_WEIGHTS)

    def body() -> dict:
        sub: dict[str, tuple[str, float]] = {}
        t0 = time.monotonic()
        for i in range(count):
            pause = t0 + i / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            team = teams[i % len(teams)]
            t = time.monotonic()
            sub[side.submit(team, f"s-{team[0]}-{i}", 1, f"{run_for}s")] = (team, t)
        submit_s = time.monotonic() - t0
        w.wait(lambda j: all(j.get(k, {}).get("done") for k in sub), timeout, "the stream to end")
        with w.cond:
            jobs = [{"team": team, "submitted": at, "started": w.jobs[k]["started"],
                     "spans": [list(s) for s in w.jobs[k]["spans"]], "gpus": 1}
                    for k, (team, at) in sub.items()]  # fmt: skip
            preempted = sum(w.jobs[k]["suspensions"] for k in sub)
        out = stream_figures(jobs, STREAM_WEIGHTS)
        return {**out, "submit_s": round(submit_s, 1), "preemptions": preempted}

    return measured(side, body)


# --- all four ------------------------------------------------------------------------------
def _both(workdir: Path, db: int, teams: list[dict], nodes: int, fn,
          admission: dict | None = None) -> dict:  # fmt: skip
    """fn through trainq, then through Kueue; a side that fails is recorded as such."""
    out = {}
    for name in ("trainq", "kueue"):
        t0 = time.monotonic()
        try:
            if name == "trainq":
                out[name] = run_trainq(workdir / name, db, teams, nodes, GRACE, fn, admission)
            else:
                out[name] = run_kueue(workdir / name, teams, nodes, GRACE, fn)
        except Exception as exc:  # noqa: BLE001 - the other side and workloads still run
            out[name] = {"error": f"{type(exc).__name__}: {exc}"}
        out[name]["side_wall_s"] = round(time.monotonic() - t0, 1)
    return out


def run(workdir: Path, db: int, flood: int = 100, seed_rounds: int = 5, reclaim_nodes: int = 4,
        reclaim_rounds: int = 5, entitled: int = 2, mixed_jobs: int = 70, mixed_nodes: int = 6,
        mixed_run_for: tuple[int, int] = (5, 20), mixed_seed: int = 13,
        stream_jobs: int = 1000, stream_rate: float = 20.0, stream_nodes: int = 4,
        stream_run_for: int = 3, mixed_timeout_s: float = 480.0,
        workloads: tuple[str, ...] = WORKLOADS, timeout_s: float = 180.0) -> dict:  # fmt: skip
    if not kq.built():
        raise RuntimeError(f"Kueue {kq.version()} is not built: k8s/local/build.sh kueue")
    out: dict = {"kueue_version": kq.version()}
    if "seed" in workloads:
        teams = seed_teams()
        quota_jobs = int(teams[0]["quota"]["gpu"]) // 4
        out["seed_example"] = {"flood": flood, "rounds": seed_rounds, "nodes": 5, **_both(
            workdir / "seed", db, teams, 5,
            lambda s: seed_example(s, flood, seed_rounds, quota_jobs, timeout_s))}  # fmt: skip
    if "mixed" in workloads:
        shapes = workload(mixed_jobs, mixed_seed, mixed_run_for)
        out["mixed"] = {
            "jobs": mixed_jobs, "nodes": mixed_nodes, "gpus": mixed_nodes * GPUS_PER_NODE,
            "seed": mixed_seed, "run_for_s": list(mixed_run_for),
            "gpus_asked": sum(g * r for _, g, r, _ in shapes),
            **_both(workdir / "mixed", db, mixed_teams(mixed_nodes), mixed_nodes,
                    lambda s: mixed(s, shapes, mixed_nodes, mixed_timeout_s),
                    PACKING_ADMISSION),
        }  # fmt: skip
    if "stream" in workloads:
        pool = stream_nodes * GPUS_PER_NODE
        limit = stream_jobs / stream_rate + 4 * stream_jobs * stream_run_for / pool + 120
        out["stream"] = {
            "jobs": stream_jobs, "rate_per_s": stream_rate, "nodes": stream_nodes,
            "gpus": pool, "run_for_s": stream_run_for, "weights": STREAM_WEIGHTS,
            **_both(workdir / "stream", db, stream_teams(stream_nodes), stream_nodes,
                    lambda s: stream(s, stream_jobs, stream_rate, stream_run_for, limit)),
        }  # fmt: skip
    if "reclaim" in workloads:
        out["reclaim"] = {
            "nodes": reclaim_nodes, "gpus": reclaim_nodes * GPUS_PER_NODE,
            "rounds": reclaim_rounds, "entitled_per_round": entitled,
            **_both(workdir / "reclaim", db, reclaim_teams(reclaim_nodes), reclaim_nodes,
                    lambda s: reclaim(s, reclaim_nodes, reclaim_rounds, entitled, timeout_s)),
        }  # fmt: skip
    return out
