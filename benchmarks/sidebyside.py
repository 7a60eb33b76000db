"""6. trainq and Kueue side by side on the same control plane (issue 19), one after the other,
each on kwok nodes of its own made for the run and deleted after: the same workloads, the same
team configuration (trainq's, mapped onto Kueue by benchmarks/kueue.py), latency measured
client-side from PyTorchJob watch events (benchmarks/jobwatch.py): submission (just before the
POST to trainq, or the create of the suspended, labelled PyTorchJob for Kueue) to the job being
admitted (its PyTorchJob created by trainq / unsuspended by Kueue). CPU-seconds: trainq's
processes (gunicorn and its workers, two RQ workers and their work horses, the watcher) vs
Kueue's controller, over the same window (first submission to last measurement).

1. Seed example: team alpha submits FLOOD jobs (4 gpus each, long), then beta and gamma one
   each (ROUNDS times, each waited for until it ended): time until beta's and gamma's start.
   Quotas as k8s/local/trainq.yaml (alpha 12 gpus, no borrowing; beta 12 + 4 borrowable;
   gamma as alpha), on 5 nodes x 8 gpus (room for every quota and beta's borrowing).
4. Reclaim (benchmarks/reclaim.py's setup): beta's borrowed 8-gpu jobs hold the whole pool;
   alpha, entitled to half, submits ENTITLED 8-gpu jobs; time to admission; then alpha's jobs
   end and beta's preempted jobs are admitted again, ROUNDS times.

Workloads 2 (mixed shapes) and 3 (steady stream), and `run()` for all four, are in
benchmarks/sidebyside_load.py.
"""

import copy
import hashlib
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml
from kubernetes import client, config

from benchmarks import kueue as kq
from benchmarks.jobwatch import JobWatch, tree_cpu_seconds
from benchmarks.packing import GPUS_PER_NODE, POOL_KEY, _nodes, pod_job_id, pool_stack
from benchmarks.stack import LOCAL_CONFIG, BenchStack, delete_pytorchjobs, kubeconfig
from benchmarks.stats import percentile

GAMMA_TOKEN = "gamma-bench-token"
TOKENS = {"alpha": "alpha-dev-token", "beta": "beta-dev-token", "gamma": GAMMA_TOKEN}
RUN_LABEL = "trainq.dev/kueue-bench"
IMAGE = "docker.io/library/busybox:1.36"


def _placement(pool: str) -> dict:
    return {"node_selector": {POOL_KEY: pool},
            "tolerations": [{"key": POOL_KEY, "operator": "Equal", "value": pool,
                             "effect": "NoSchedule"}]}  # fmt: skip


def seed_teams() -> list[dict]:
    """alpha and beta as in k8s/local/trainq.yaml (quotas, borrowing limit, weights), gamma a
    copy of alpha; reclaim and within-team preemption on (each side adds its pool)."""
    raw = {t["name"]: t for t in yaml.safe_load(LOCAL_CONFIG.read_text())["teams"]}
    gamma = {**copy.deepcopy(raw["alpha"]), "name": "gamma", "namespace": "team-gamma",
             "token_sha256": [hashlib.sha256(GAMMA_TOKEN.encode()).hexdigest()]}  # fmt: skip
    out = []
    for t in (raw["alpha"], raw["beta"], gamma):
        t = {**copy.deepcopy(t), "namespace": f"bench-tq-{t['name']}",
             "preemption": {"reclaim": "Any", "within_team": "LowerPriority",
                            "min_runtime_seconds": 0}}  # fmt: skip
        out.append(t)
    return out


def reclaim_teams(nodes: int) -> list[dict]:
    """benchmarks/reclaim.py's teams: alpha's quota half the pool, reclaim on; beta's the
    other half plus a borrowing limit of alpha's half (within-team preemption on for both)."""
    half = nodes * GPUS_PER_NODE // 2
    out = []
    for t in seed_teams()[:2]:
        t = {**t, "quota": {"max_running_jobs": 100, "cpu": "1000", "memory": "8Ti", "gpu": half}}
        t.pop("borrowing_limit", None)
        if t["name"] == "beta":
            t["borrowing_limit"] = {"gpu": half}
        out.append(t)
    return out


# --- the two sides: submit(team, name, gpus, run_for) -> the job's key in the watch ----------
# (`replicas`: gpus is per replica; `limit_s`: a declared time limit, which trainq's
# placement-true admission uses for backfill; Kueue has no use for one and gets none.)
# `pod_selector` selects the side's pods, `pod_job(pod)` names a pod's job as the watch does.
class TrainqSide:
    name = "trainq"

    def __init__(self, stack: BenchStack):
        self.stack, self.http = stack, requests.Session()
        self.pod_selector = f"trainq.dev/instance={stack.instance}"
        key = "trainq.dev/job-id"
        self.watch = JobWatch(self.pod_selector, lambda o: o["metadata"]["labels"].get(key))

    pod_job = staticmethod(pod_job_id)

    def submit(self, team: str, name: str, gpus: int, run_for: str, replicas: int = 1,
               limit_s: int | None = None) -> str:  # fmt: skip
        body = {"name": name, "image": IMAGE, "command": ["sh", "-c", "echo training"],
                "workers": replicas - 1,
                "resources": {"cpu": "1", "memory": "1Gi", "gpu": gpus},
                "annotations": {"trainq.dev/sim-run-for": run_for}}  # fmt: skip
        if limit_s:
            body["max_runtime_seconds"] = limit_s
        r = self.http.post(f"{self.stack.base}/v1/teams/{team}/jobs", json=body, timeout=10,
                           headers={"Authorization": f"Bearer {TOKENS[team]}"})  # fmt: skip
        if r.status_code != 202:
            raise RuntimeError(f"submission answered {r.status_code}: {r.text[:300]}")
        return str(r.json()["id"])

    def pids(self) -> list[int]:
        return [p.pid for p in self.stack.procs.values()]


class KueueSide:
    name = "kueue"

    def __init__(self, controller: kq.Kueue, pool: str, namespaces: dict[str, str], grace: int):
        self.kueue, self.pool, self.ns, self.grace = controller, pool, namespaces, grace
        self.run = uuid.uuid4().hex[:8]
        self.api = kq.custom_api()
        self.pod_selector = f"{RUN_LABEL}={self.run}"
        self.watch = JobWatch(self.pod_selector, lambda o: o["metadata"]["name"])

    def pod_job(self, pod) -> str | None:
        return (pod.metadata.labels or {}).get("training.kubeflow.org/job-name")

    def job(self, team: str, name: str, gpus: int, run_for: str, replicas: int = 1) -> dict:
        """What trainq would create for the same job, suspended, with Kueue's queue label."""
        amounts = {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": str(gpus)}
        pod = {"containers": [{"name": "pytorch", "image": IMAGE,
                               "command": ["sh", "-c", "echo training"],
                               "resources": {"requests": amounts, "limits": dict(amounts)}}],
               "automountServiceAccountToken": False,
               "terminationGracePeriodSeconds": self.grace,
               "nodeSelector": {POOL_KEY: self.pool},
               "tolerations": _placement(self.pool)["tolerations"]}  # fmt: skip
        template = {"metadata": {"labels": {RUN_LABEL: self.run},
                                 "annotations": {"trainq.dev/sim-run-for": run_for}},
                    "spec": pod}  # fmt: skip
        specs = {"Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": template}}
        if replicas > 1:
            specs["Worker"] = {**copy.deepcopy(specs["Master"]), "replicas": replicas - 1}
        return {
            "apiVersion": "kubeflow.org/v1",
            "kind": "PyTorchJob",
            "metadata": {"name": name, "namespace": self.ns[team],
                         "labels": {**kq.job_labels(team), RUN_LABEL: self.run}},
            "spec": {"runPolicy": {"suspend": True, "backoffLimit": 3},
                     "pytorchReplicaSpecs": specs},
        }  # fmt: skip

    def submit(self, team: str, name: str, gpus: int, run_for: str, replicas: int = 1,
               limit_s: int | None = None) -> str:  # fmt: skip
        obj = self.job(team, name.replace("_", "-"), gpus, run_for, replicas)
        self.api.create_namespaced_custom_object("kubeflow.org", "v1", self.ns[team],
                                                 "pytorchjobs", obj)  # fmt: skip
        return obj["metadata"]["name"]

    def pids(self) -> list[int]:
        return [self.kueue.pid]


# --- the workloads -----------------------------------------------------------------------------
def summary(lat: list[float]) -> dict:
    if not lat:
        return {"samples": 0}
    return {"samples": len(lat), "p50_s": round(percentile(lat, 50), 3),
            "p99_s": round(percentile(lat, 99), 3), "max_s": round(max(lat), 3),
            "seconds": [round(x, 3) for x in lat]}  # fmt: skip


def measured(side, body: Callable[[], dict]) -> dict:
    cpu0, t0 = tree_cpu_seconds(side.pids()), time.monotonic()
    out = body()
    out["cpu_s"] = round(tree_cpu_seconds(side.pids()) - cpu0, 2)
    out["window_s"] = round(time.monotonic() - t0, 1)
    return out


def seed_example(side, flood: int, rounds: int, alpha_jobs: int, timeout: float) -> dict:
    w = side.watch

    def body() -> dict:
        t0 = time.monotonic()
        sub = {side.submit("alpha", f"a-{i}", 4, "3600s"): time.monotonic() for i in range(flood)}
        flood_s = time.monotonic() - t0
        w.wait(lambda j: sum(1 for k in sub if j.get(k, {}).get("started")) >= alpha_jobs,
               timeout, "alpha to hold its quota")  # fmt: skip
        with w.cond:
            first = sorted(w.jobs[k]["started"] - t for k, t in sub.items()
                           if w.jobs.get(k, {}).get("started"))  # fmt: skip
        lat: dict[str, list[float]] = {"beta": [], "gamma": []}
        for r in range(rounds):
            mine = {}
            for team in ("beta", "gamma"):
                t = time.monotonic()
                mine[side.submit(team, f"{team[0]}-{r}", 4, "2s")] = (team, t)
            for k, at in w.started(list(mine), timeout, "beta's and gamma's jobs").items():
                lat[mine[k][0]].append(at - mine[k][1])
            w.wait(lambda j, m=mine: all(j.get(k, {}).get("done") for k in m), timeout,
                   "beta's and gamma's jobs to end")  # fmt: skip
        both = lat["beta"] + lat["gamma"]
        return {**summary(both), "beta": summary(lat["beta"]), "gamma": summary(lat["gamma"]),
                "flood_submit_s": round(flood_s, 2),
                "alpha_admitted": w.count(list(sub), "started"),
                "alpha_first_admissions_s": [round(x, 3) for x in first[:alpha_jobs]]}  # fmt: skip

    return measured(side, body)


def reclaim(side, nodes: int, rounds: int, entitled: int, timeout: float) -> dict:
    w = side.watch

    def body() -> dict:
        beta = [side.submit("beta", f"borrow-{i}", GPUS_PER_NODE, "3600s") for i in range(nodes)]
        w.started(beta, timeout, "beta's borrowed jobs")
        lat = []
        for r in range(rounds):
            mine = {}
            for i in range(entitled):
                t = time.monotonic()
                mine[side.submit("alpha", f"entitled-{r}-{i}", GPUS_PER_NODE, "3s")] = t
            for k, at in w.started(list(mine), timeout, "alpha's entitled jobs").items():
                lat.append(at - mine[k])
            w.wait(lambda j, m=mine: all(j.get(k, {}).get("done") for k in m), timeout,
                   "alpha's jobs to end")  # fmt: skip
            w.wait(lambda j: all(j.get(k, {}).get("running") for k in beta), timeout,
                   "beta's preempted jobs to be admitted again")  # fmt: skip
        with w.cond:
            preempted = sum(w.jobs[k]["suspensions"] for k in beta)
        return {**summary(lat), "preemptions": preempted}

    return measured(side, body)


# --- running each side -------------------------------------------------------------------------
@contextmanager
def _pool(nodes: int):
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig()))
    pool = f"kq-{uuid.uuid4().hex[:6]}"
    names = _nodes(core, pool, nodes)
    try:
        yield pool
    finally:
        for name in names:
            try:
                core.delete_node(name)
            except client.ApiException:
                pass


def run_trainq(workdir: Path, db: int, teams: list[dict], nodes: int, grace: int, fn,
               admission: dict | None = None) -> dict:  # fmt: skip
    """fn(side) with a trainq stack for `teams` on `nodes` kwok nodes of its own (`admission`:
    settings over the local config's)."""
    pool = f"kq-{uuid.uuid4().hex[:6]}"
    teams = [{**t, **_placement(pool)} for t in teams]
    stack = BenchStack(workdir, db, teams, {t["name"]: TOKENS[t["name"]] for t in teams})
    cfg = yaml.safe_load(stack.config_path.read_text())
    cfg.setdefault("dispatch", {})["termination_grace_seconds"] = grace
    cfg.setdefault("admission", {}).update(admission or {})
    stack.config_path.write_text(yaml.safe_dump(cfg))
    with pool_stack(stack, pool, nodes):  # kwok nodes of its own, the stack, then both gone
        side = TrainqSide(stack)
        try:
            return fn(side)
        finally:
            side.watch.close()


def run_kueue(workdir: Path, teams: list[dict], nodes: int, grace: int, fn) -> dict:
    """fn(side) with Kueue started for `teams` (mapped by benchmarks/kueue.py) on `nodes` kwok
    nodes of its own; its PyTorchJobs and queueing objects deleted and Kueue stopped after."""
    namespaces = {t["name"]: f"kueue-bench-{t['name']}" for t in teams}
    for ns in namespaces.values():
        kq.ensure_namespace(ns)
    with _pool(nodes) as pool:
        controller = kq.Kueue(workdir)
        controller.start()
        api = kq.custom_api()
        objs = kq.objects(teams, f"kqb-{pool}", namespaces)
        side = None
        try:
            kq.create(api, objs)
            side = KueueSide(controller, pool, namespaces, grace)
            return {**fn(side), "kueue_version": kq.version()}
        finally:
            if side:
                side.watch.close()
                delete_pytorchjobs(api, f"{RUN_LABEL}={side.run}")
            kq.delete(api, objs)
            controller.stop()
