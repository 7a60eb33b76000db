"""4b. Packing: GPU use while jobs wait, placement-true admission against the sum-only policy.

The same seeded backlog of mixed-shape gang jobs (1/2/4/8-gpu replicas, 1-4 replicas each)
goes through the whole stack (API, two workers, watcher, the training operator, the real
kube-scheduler and kwok nodes of the benchmark's own), three times: with `admission.placement:
nodes` (first come, first served within a team), the same with `admission.size_credit_seconds`
(within a team, large gangs first: wrapper.admission.ordering), and with `sums` (the policy
before placement-true admission, without the pods-ready guard, as it was). Every SAMPLE_S,
the pods are listed:

- useful gpus: gpus of Running pods whose job has every replica Running at that moment
  (a gang with a replica Pending trains nothing: its other replicas' gpus are wasted);
- held gpus: gpus of every Running pod;
- a job is counted half-placed when some of its pods run while another waits unscheduled for
  more than HALF_PLACED_S (longer than a scheduling round trip).

Utilisation = useful gpu-seconds / gpu-seconds of the pool, over the samples in which some job
was still waiting (queued in trainq or Pending in Kubernetes).

Every job declares a time limit (`max_runtime_seconds`: its run time x 1.25 + 10 s), as a
Slurm user gives one: placement-true admission lets a job bound to end before a held gang's
nodes drain use them meanwhile (backfill); the sum-only policy has no use for it.
"""

import random
import time
import uuid
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml
from kubernetes import client, config

from benchmarks import packing_sim
from benchmarks.stack import LOCAL_CONFIG, BenchStack, kubeconfig

POOL_KEY = "trainq.dev/bench-pool"
GPUS_PER_NODE = 8
SAMPLE_S = 0.5
HALF_PLACED_S = 5.0
# `admission.size_credit_seconds` of the size-ordered run: every job here is submitted within
# a few seconds, so any credit orders each team's queue largest first.
SIZE_CREDIT_S = 30.0
TOKENS = {"alpha": "alpha-dev-token", "beta": "beta-dev-token"}


def workload(jobs: int, seed: int, run_for: tuple[int, int]) -> list[tuple[str, int, int, str]]:
    """(team, gpus per replica, replicas, run-for) per job, in submission order."""
    rng = random.Random(seed)
    out = []
    for i in range(jobs):
        gpu = rng.choice([1, 1, 2, 2, 4, 8])
        replicas = rng.randint(1, 4 if gpu < 8 else 2)
        out.append(("alpha" if i % 2 else "beta", gpu, replicas, f"{rng.randint(*run_for)}s"))
    return out


def _limit(run_s: int) -> int:
    """A job's declared time limit: its run time x 1.25 + 10 s."""
    return run_s * 5 // 4 + 10


def _stack(workdir: Path, db: int, pool: str, placement: str, head_wait: float,
           size_credit: float) -> BenchStack:  # fmt: skip
    raw = yaml.safe_load(LOCAL_CONFIG.read_text())
    whole = {"max_running_jobs": 1000, "cpu": "1000", "memory": "8Ti", "gpu": 1000}
    teams = [{**t, "quota": whole, "node_selector": {POOL_KEY: pool},
              "tolerations": [{"key": POOL_KEY, "operator": "Equal", "value": pool,
                               "effect": "NoSchedule"}]}
             for t in raw["teams"] if t["name"] in TOKENS]  # fmt: skip
    stack = BenchStack(workdir, db, teams, TOKENS)
    cfg = yaml.safe_load(stack.config_path.read_text())
    adm = cfg.setdefault("admission", {})
    adm["placement"] = placement
    # A short head-of-line bound: a big gang soon holds the next free capacity and is admitted
    # as soon as it fits (in sum for the old policy: where gangs end up half-placed).
    adm["head_wait_seconds"] = head_wait
    adm["size_credit_seconds"] = size_credit
    if placement == "sums":
        adm["pods_ready_timeout_seconds"] = 3600.0  # (the sum-only policy had no guard)
    stack.config_path.write_text(yaml.safe_dump(cfg))
    return stack


def _nodes(core: client.CoreV1Api, pool: str, count: int) -> list[str]:
    names = [f"bench-{pool}-{i}" for i in range(count)]
    alloc = {"cpu": "64", "memory": "512Gi", "pods": "110", "nvidia.com/gpu": str(GPUS_PER_NODE)}
    for name in names:
        core.create_node({
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, POOL_KEY: pool},
                         "annotations": {"kwok.x-k8s.io/node": "fake",
                                         "node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"taints": [{"key": POOL_KEY, "value": pool, "effect": "NoSchedule"}]},
            "status": {"allocatable": alloc, "capacity": alloc},
        })  # fmt: skip
    return names


def _gpus(pod) -> int:
    limits = pod.spec.containers[0].resources.limits or {}
    requests_ = pod.spec.containers[0].resources.requests or {}
    return int(limits.get("nvidia.com/gpu") or requests_.get("nvidia.com/gpu") or 0)


@contextmanager
def pool_stack(stack: BenchStack, pool: str, nodes: int):
    """`stack` (API, watcher, two workers) with `nodes` kwok nodes of `pool` made for it;
    yields a Kubernetes client; stops the stack and deletes the nodes after."""
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig()))
    names = _nodes(core, pool, nodes)
    try:
        stack.start_api()
        stack.start_watcher()
        stack.start_workers(2)
        yield core
    finally:
        stack.close()
        for name in names:
            try:
                core.delete_node(name)
            except client.ApiException:
                pass


def _run_mode(workdir: Path, db: int, placement: str, size_credit: float, shapes, nodes: int,
              head_wait: float, timeout_s: float) -> dict:  # fmt: skip
    pool = f"{placement}-{uuid.uuid4().hex[:6]}"
    stack = _stack(workdir / pool, db, pool, placement, head_wait, size_credit)
    with pool_stack(stack, pool, nodes) as core:
        session = requests.Session()
        ids = {}
        for i, (team, gpu, replicas, run_for) in enumerate(shapes):
            body = {"name": f"pack-{i}", "image": "docker.io/library/busybox:1.36",
                    "command": ["sh", "-c", "echo training"],
                    "workers": replicas - 1,
                    "resources": {"cpu": "1", "memory": "1Gi", "gpu": gpu},
                    # A declared time limit, as Slurm users give one: what lets a short job
                    # use a held gang's nodes until they drain (backfill).
                    "max_runtime_seconds": _limit(int(run_for[:-1])),
                    "annotations": {"trainq.dev/sim-run-for": run_for}}  # fmt: skip
            r = session.post(f"{stack.base}/v1/teams/{team}/jobs", json=body, timeout=10,
                             headers={"Authorization": f"Bearer {TOKENS[team]}"})  # fmt: skip
            if r.status_code != 202:
                raise RuntimeError(f"submission answered {r.status_code}: {r.text[:300]}")
            ids[str(r.json()["id"])] = replicas
        return observe(core, f"trainq.dev/instance={stack.instance}", pod_job_id, ids,
                       nodes * GPUS_PER_NODE, timeout_s)  # fmt: skip


def pod_job_id(pod) -> str | None:
    return (pod.metadata.labels or {}).get("trainq.dev/job-id")


def observe(core, selector: str, job_of: Callable, ids: dict[str, int], pool_gpus: int,
            timeout_s: float) -> dict:  # fmt: skip
    """Sample the pods matching `selector` every SAMPLE_S until every job of `ids` (job ->
    replicas; `job_of(pod)` names a pod's job) has ended or `timeout_s` passed: utilisation
    while jobs wait and half-placed jobs, as the module's docstring says."""
    finished: set[str] = set()
    half_since: dict[str, float] = {}
    half_placed: set[str] = set()
    detail: list[dict] = []  # what each half-placed job looked like when it was counted
    useful_s = held_s = waiting_s = 0.0
    t0 = time.monotonic()
    last = t0
    while time.monotonic() - t0 < timeout_s:
        pods = core.list_pod_for_all_namespaces(label_selector=selector).items
        now = time.monotonic()
        dt, last = now - last, now
        by_job: dict[str, list] = {}
        for p in pods:
            by_job.setdefault(job_of(p), []).append(p)
        useful = held = 0
        waiting = False
        for job, replicas in ids.items():
            mine = by_job.get(job, [])
            running = [p for p in mine if p.status.phase == "Running"]
            pending = [p for p in mine if p.status.phase == "Pending" and not p.spec.node_name]
            done = [p for p in mine if p.status.phase in ("Succeeded", "Failed")]
            held += sum(_gpus(p) for p in running)
            if len(running) == replicas:
                useful += sum(_gpus(p) for p in running)
            if done and not running and not pending:
                finished.add(job)
            if job not in finished and (not mine or pending):
                waiting = True  # queued in trainq, or a replica waits for a node
            if running and pending:
                half_since.setdefault(job, now)
                if now - half_since[job] > HALF_PLACED_S and job not in half_placed:
                    half_placed.add(job)
                    where = sorted(f"{p.metadata.name}@{p.spec.node_name}" for p in running)
                    waits = sorted(p.metadata.name for p in pending)
                    detail.append({"job": job, "at_s": round(now - t0, 1), "running": where,
                                   "pending": waits})  # fmt: skip
            else:
                half_since.pop(job, None)
        if waiting:
            useful_s += useful * dt
            held_s += held * dt
            waiting_s += dt
        if len(finished) == len(ids):
            break
        time.sleep(SAMPLE_S)
    makespan = time.monotonic() - t0
    capacity_s = pool_gpus * waiting_s
    return {
        "jobs": len(ids),
        "finished": len(finished),
        "makespan_s": round(makespan, 1),
        "waiting_s": round(waiting_s, 1),
        "utilisation_while_waiting": round(useful_s / capacity_s, 3) if capacity_s else None,
        "held_while_waiting": round(held_s / capacity_s, 3) if capacity_s else None,
        "half_placed_jobs": len(half_placed),
        "half_placed": detail,
    }


def run(workdir: Path, db: int, jobs: int, nodes: int, seed: int = 13,
        run_for: tuple[int, int] = (20, 40), head_wait: float = 10.0,
        size_credit: float = SIZE_CREDIT_S, timeout_s: float = 900) -> dict:  # fmt: skip
    shapes = workload(jobs, seed, run_for)
    out = {"nodes": nodes, "gpus": nodes * GPUS_PER_NODE, "seed": seed, "head_wait_s": head_wait,
           "size_credit_s": size_credit,
           "gpus_asked": sum(g * r for _, g, r, _ in shapes)}  # fmt: skip
    modes = (("placement_true", "nodes", 0.0), ("placement_true_size_credit", "nodes", size_credit),
             ("sum_only", "sums", 0.0))  # fmt: skip
    for key, mode, credit in modes:
        out[key] = _run_mode(workdir, db, mode, credit, shapes, nodes, head_wait, timeout_s)
    # The same admission code with zero turnover latency (packing_sim): what the policy
    # itself reaches on this workload, beside what the stack measured.
    out["policy_zero_latency"] = packing_sim.utilisation(shapes, nodes, head_wait, _limit)
    out["policy_zero_latency_size_credit"] = packing_sim.utilisation(
        shapes, nodes, head_wait, _limit, size_credit)  # fmt: skip
    b = out["sum_only"]["utilisation_while_waiting"]
    ratios = (
        ("placement_true", "utilisation_ratio"),
        ("placement_true_size_credit", "utilisation_ratio_size_credit"),
    )
    for key, ratio in ratios:
        a = out[key]["utilisation_while_waiting"]
        if a and b:
            out[ratio] = round(a / b, 3)
    out["goals"] = {"utilisation_while_waiting": 0.9, "half_placed_jobs": 0}
    return out
