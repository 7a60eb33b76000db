"""4d. Reclaim: how soon a team entitled to its quota gets it back while another team's borrowed
jobs hold the pool.

kwok nodes of the benchmark's own (NODES x 8 gpus), the whole stack (API, two workers, the
watcher, the training operator, the real kube-scheduler). alpha's quota is half the pool and it
may reclaim; beta's is the other half, with a borrowing limit of alpha's half. Each round: beta
holds the whole pool (its borrowed jobs run for long), then alpha submits ENTITLED jobs of one
node each at once (within its quota); each is timed from its submission to its admission (the
record's `submitted_at` and `admitted_at`, both written by trainq), and the round ends when they
have run (RUN_FOR) and beta's preempted jobs are running again.

Baseline (same run): one round with `reclaim: Never`, where alpha's job waits for a borrower's
job to end; the borrowers' jobs are `baseline_run_for` seconds long there (in production they
run for hours), so the baseline's figure is about that run time.
"""

import time
import uuid
from pathlib import Path

import requests
import yaml

from benchmarks.packing import GPUS_PER_NODE, POOL_KEY, pool_stack
from benchmarks.stack import LOCAL_CONFIG, BenchStack
from benchmarks.stats import percentile
from wrapper.clock import epoch

TOKENS = {"alpha": "alpha-dev-token", "beta": "beta-dev-token"}
RUN_FOR = "3s"
BASELINE_RUN_FOR = 40


def _stack(workdir: Path, db: int, pool: str, nodes: int, reclaim: str) -> BenchStack:
    raw = yaml.safe_load(LOCAL_CONFIG.read_text())
    half = nodes * GPUS_PER_NODE // 2
    teams = []
    for t in raw["teams"]:
        if t["name"] not in TOKENS:
            continue
        t = {**t, "quota": {"max_running_jobs": 100, "cpu": "1000", "memory": "8Ti", "gpu": half},
             "node_selector": {POOL_KEY: pool},
             "tolerations": [{"key": POOL_KEY, "operator": "Equal", "value": pool,
                              "effect": "NoSchedule"}],
             "preemption": {"reclaim": reclaim, "min_runtime_seconds": 0}}  # fmt: skip
        t.pop("borrowing_limit", None)
        if t["name"] == "beta":
            t["borrowing_limit"] = {"gpu": half}
        teams.append(t)
    stack = BenchStack(workdir, db, teams, TOKENS)
    cfg = yaml.safe_load(stack.config_path.read_text())
    cfg.setdefault("dispatch", {})["termination_grace_seconds"] = 5
    stack.config_path.write_text(yaml.safe_dump(cfg))
    return stack


def _body(name: str, run_for: str) -> dict:
    return {"name": name, "image": "docker.io/library/busybox:1.36",
            "command": ["sh", "-c", "echo training"],
            "resources": {"cpu": "1", "memory": "1Gi", "gpu": GPUS_PER_NODE},
            "annotations": {"trainq.dev/sim-run-for": run_for}}  # fmt: skip


class _Client:
    def __init__(self, base: str):
        self.base, self.http = base, requests.Session()

    def submit(self, team: str, body: dict) -> int:
        r = self.http.post(f"{self.base}/v1/teams/{team}/jobs", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {TOKENS[team]}"})  # fmt: skip
        if r.status_code != 202:
            raise RuntimeError(f"submission answered {r.status_code}: {r.text[:300]}")
        return r.json()["id"]

    def record(self, team: str, job_id: int) -> dict:
        auth = {"Authorization": f"Bearer {TOKENS[team]}"}
        return self.http.get(f"{self.base}/v1/teams/{team}/jobs/{job_id}", timeout=10,
                             headers=auth).json()  # fmt: skip

    def wait(self, team: str, ids: list[int], statuses: set[str], timeout: float) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            recs = [self.record(team, i) for i in ids]
            if all(r["status"] in statuses for r in recs):
                return recs
            if time.monotonic() > deadline:
                raise RuntimeError(f"jobs {ids} of {team} not {statuses} in {timeout}s: "
                                   f"{[r['status'] for r in recs]}")  # fmt: skip
            time.sleep(0.2)


def _rounds(api: _Client, nodes: int, rounds: int, entitled: int, borrower_run_for: str,
            timeout: float) -> tuple[list[float], int]:  # fmt: skip
    """Seconds from submission to admission of each entitled job; preemptions seen."""
    beta = [api.submit("beta", _body(f"borrow-{i}", borrower_run_for)) for i in range(nodes)]
    api.wait("beta", beta, {"running"}, timeout)
    waits, preempted = [], 0
    for n in range(max(rounds, 1)):
        mine = [api.submit("alpha", _body(f"entitled-{n}-{i}", RUN_FOR))
                for i in range(entitled)]  # fmt: skip
        for rec in api.wait("alpha", mine, {"running", "succeeded"}, timeout):
            waits.append(round(epoch(rec["admitted_at"]) - epoch(rec["submitted_at"]), 3))
        api.wait("alpha", mine, {"succeeded"}, timeout)
        # beta's preempted jobs are admitted again: the pool is full of borrowers once more
        recs = api.wait("beta", beta, {"running", "succeeded"}, timeout)
        preempted = sum(r["preemptions"] for r in recs)
    return waits, preempted


def _run_mode(workdir: Path, db: int, nodes: int, reclaim: str, rounds: int, entitled: int,
              borrower_run_for: str, timeout: float) -> dict:  # fmt: skip
    pool = f"reclaim-{uuid.uuid4().hex[:6]}"
    stack = _stack(workdir / reclaim, db, pool, nodes, reclaim)
    with pool_stack(stack, pool, nodes):
        waits, preempted = _rounds(_Client(stack.base), nodes, rounds, entitled,
                                   borrower_run_for, timeout)  # fmt: skip
    if not waits:
        return {"samples": 0}
    return {
        "samples": len(waits),
        "p50_s": percentile(waits, 50),
        "p99_s": percentile(waits, 99),
        "max_s": max(waits),
        "preemptions": preempted,
    }


def run(workdir: Path, db: int, nodes: int = 4, rounds: int = 25, entitled: int = 2,
        baseline_run_for: int = BASELINE_RUN_FOR, timeout_s: float = 180.0) -> dict:  # fmt: skip
    reclaim = _run_mode(workdir, db, nodes, "Any", rounds, entitled, "3600s", timeout_s)
    never = _run_mode(workdir, db, nodes, "Never", 1, 1, f"{baseline_run_for}s",
                      timeout_s + baseline_run_for)  # fmt: skip
    return {"nodes": nodes, "gpus": nodes * GPUS_PER_NODE, "entitled_per_round": entitled,
            "reclaim": reclaim, "no_preemption": never,
            "borrower_run_for_s_baseline": baseline_run_for}  # fmt: skip
