"""2. Dispatch: with N jobs queued and capacity free, PyTorchJobs created per second by the RQ
workers, against a raw loop creating the same objects with the kubernetes client on the same
apiserver: copies of the PyTorchJobs trainq created (each pinned where admission placed its
original), each with the peers' NetworkPolicy trainq's watcher gives every job (made on a
thread beside the loops, as the watcher makes it beside the workers), as many loop threads as
there are workers. The loop making the PyTorchJobs alone is measured too
(`raw_rate_pytorchjob_only`). Then p50/p99 from submission (just before the POST) to the
PyTorchJob existing (its ADDED event on a watch), with idle workers and one submission at a
time.

Every rate is (N - 1) / (last ADDED - first ADDED) seen by the same watch, so process start-up
is not counted on any side. The sides alternate for `rounds` rounds (the figure is the median
of the per-round ratios: on a shared 2-core machine a single pair swings by 1.5x), and each
starts on a settled control plane: the previous side's PyTorchJobs and their pods gone.
Simulated pods run longer than any window (trainq.dev/sim-run-for), so no side's window also
carries the operator's and the watcher's work for finished jobs (with 3 s pods, trainq's
slower window did and the raw loop's did not). Each window's CPU per job by process
(`benchmarks.cpushare`) shows where the difference goes.
"""

import copy
import os
import queue
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from kubernetes import client, config, watch
from rq import Worker

from benchmarks import cpushare
from benchmarks.cpushare import CpuMeter
from benchmarks.stack import BenchStack, delete_pytorchjobs, job_body, kubeconfig, submit
from benchmarks.stats import median_low, percentile
from queue_workers.kube import peers, pytorchjob


class AddedWatch:
    """Times the ADDED event of every PyTorchJob matching a label selector."""

    def __init__(self, selector: str, meter: CpuMeter | None = None, expect: int = 0):
        self.selector = selector
        self.api = client.CustomObjectsApi(config.new_client_from_config(config_file=kubeconfig()))
        self.added: dict[str, float] = {}
        # With a meter: its readings at the first ADDED and at the `expect`th (the rate's window).
        self.meter, self.expect = meter, expect
        self.cpu: list[dict[str, float]] = []
        self._stop = threading.Event()
        listed = self.api.list_cluster_custom_object(
            "kubeflow.org", "v1", "pytorchjobs", label_selector=selector
        )
        self._rv = listed["metadata"]["resourceVersion"]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            stream = watch.Watch()
            for event in stream.stream(
                self.api.list_cluster_custom_object, "kubeflow.org", "v1", "pytorchjobs",
                label_selector=self.selector, resource_version=self._rv, timeout_seconds=5,
            ):  # fmt: skip
                now = time.perf_counter()
                obj = event["object"]
                self._rv = obj["metadata"]["resourceVersion"]
                name = obj["metadata"]["name"]
                if event["type"] == "ADDED" and name not in self.added:
                    # (read before the job counts: `wait_for` may return on that count)
                    if self.meter and len(self.added) + 1 in (1, self.expect):
                        self.cpu.append(self.meter.read())
                    self.added[name] = now
                if self._stop.is_set():
                    stream.stop()

    def wait_for(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.added) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        if len(self.added) < count:
            raise RuntimeError(f"only {len(self.added)} of {count} PyTorchJobs appeared")

    def rate(self) -> float:
        times = sorted(self.added.values())
        return (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0

    def cpu_per_job(self) -> dict:
        """ms of CPU per job by process group over the rate's window ({} without both reads)."""
        if len(self.cpu) < 2:
            return {}
        times = sorted(self.added.values())
        return cpushare.per_job(self.cpu[0], self.cpu[-1], times[-1] - times[0], len(times) - 1)

    def close(self):
        self._stop.set()
        self._thread.join(10)


def _submit(session: requests.Session, base: str, body: dict) -> int:
    return submit(session, base, "alpha", body)["id"]


TRAINQ_OWN = ("trainq workers", "trainq watcher", "trainq api", "redis")


def meter(stack: BenchStack) -> CpuMeter:
    """The machine's busy processes by role: trainq's (workers, watcher, API), Redis, the
    control plane's, and this process (the raw loop, and the ADDED watch on every side)."""
    procs = stack.procs
    return CpuMeter({
        "trainq workers": [p.pid for name, p in procs.items() if name.startswith("worker-")],
        "trainq watcher": [p.pid for name, p in procs.items() if name == "watcher"],
        "trainq api": [p.pid for name, p in procs.items() if name in ("api", "noop")],
        **cpushare.control_plane_pids(),
        "benchmark process": [os.getpid()],
    })  # fmt: skip


def trainq_rate(stack: BenchStack, n: int, workers: int, run_for: str) -> tuple[float, dict]:
    """PyTorchJobs made per second by the workers, and the window's CPU per job by role."""
    session = requests.Session()
    for _ in range(n):
        _submit(session, stack.base, job_body("queued", run_for))
    added = AddedWatch(f"trainq.dev/instance={stack.instance}", expect=n)
    try:
        stack.start_workers(workers)
        added.meter = meter(stack)  # (before the first ADDED: a worker takes a second to start)
        added.wait_for(n, timeout=60 + n)
        return added.rate(), added.cpu_per_job()
    finally:
        added.close()


def trainq_latency(stack: BenchStack, m: int, interval: float, run_for: str) -> list[float]:
    """Seconds from just before each POST to its PyTorchJob's ADDED event (workers idle)."""
    session = requests.Session()
    added = AddedWatch(f"trainq.dev/instance={stack.instance}")
    sent: dict[str, float] = {}
    try:
        time.sleep(1)  # the workers are idle (queue drained) and polling
        for _ in range(m):
            t0 = time.perf_counter()
            job_id = _submit(session, stack.base, job_body("latency", run_for))
            sent[pytorchjob.pytorchjob_name(stack.instance, job_id)] = t0
            time.sleep(interval)
        deadline = time.monotonic() + 60
        while not set(sent) <= set(added.added) and time.monotonic() < deadline:
            time.sleep(0.05)
        return [added.added[name] - t0 for name, t0 in sent.items() if name in added.added]
    finally:
        added.close()


def _templates(stack: BenchStack) -> list[dict]:
    """Every PyTorchJob as trainq's workers created it (server-set fields removed), in job
    order: the raw loop makes copies of exactly these, each pinned where admission placed its
    original (one copy of one job would pin every pod to one node, and a full node leaves pods
    pending: less work for the scheduler and kwok than trainq's window had)."""
    items = stack.custom_api().list_cluster_custom_object(
        "kubeflow.org", "v1", "pytorchjobs", label_selector=f"trainq.dev/instance={stack.instance}"
    )["items"]
    keep = ("namespace", "labels", "annotations")
    out = [{"apiVersion": obj["apiVersion"], "kind": obj["kind"],
            "metadata": {k: obj["metadata"][k] for k in keep if k in obj["metadata"]},
            "spec": obj["spec"]} for obj in items]  # fmt: skip
    return sorted(out, key=lambda o: int(o["metadata"]["labels"][pytorchjob.LABEL_JOB_ID]))


def raw_rate(stack: BenchStack, templates: list[dict], threads: int,
             policies: bool = True) -> tuple[float, dict]:  # fmt: skip
    """The same PyTorchJobs as trainq created (copies under another instance label and name),
    created in a plain loop with the kubernetes client, `threads` loops at a time. With
    `policies`, each also gets the peers' NetworkPolicy trainq gives every job
    (`queue_workers.kube.peers`, owned by the PyTorchJob, so made from the create's answer),
    made on one thread of its own beside the loops, as trainq's watcher makes it beside the
    workers: the same objects trainq puts in the cluster per job, with the same concurrency."""
    instance = "r" + secrets.token_hex(4)
    n = len(templates)
    bodies = []
    for i, template in enumerate(templates, 1):
        body = copy.deepcopy(template)
        body["metadata"]["name"] = f"{instance}-{i}"
        body["metadata"]["labels"]["trainq.dev/instance"] = instance
        for replica in body["spec"]["pytorchReplicaSpecs"].values():  # (their pods: _settle)
            replica["template"]["metadata"]["labels"]["trainq.dev/instance"] = instance
        bodies.append(body)
    local = threading.local()
    made: queue.Queue = queue.Queue()

    def api_client():
        if not hasattr(local, "api"):
            local.api = config.new_client_from_config(config_file=kubeconfig())
        return local.api

    def create(body):
        created = client.CustomObjectsApi(api_client()).create_namespaced_custom_object(
            "kubeflow.org", "v1", body["metadata"]["namespace"], "pytorchjobs", body,
            _request_timeout=(5, 15),
        )  # fmt: skip
        if policies:
            made.put(created)

    def make_policies():
        api = client.NetworkingV1Api(api_client())
        while (created := made.get()) is not None:
            meta = created["metadata"]
            policy = peers.peer_policy(
                created, instance, int(meta["labels"][pytorchjob.LABEL_JOB_ID])
            )
            api.create_namespaced_network_policy(
                meta["namespace"], policy, _request_timeout=(5, 15)
            )

    added = AddedWatch(f"trainq.dev/instance={instance}", meter(stack), n)
    maker = threading.Thread(target=make_policies, daemon=True)
    maker.start()
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(create, bodies))
        added.wait_for(n, timeout=60)
        return added.rate(), added.cpu_per_job()
    finally:
        made.put(None)
        maker.join(60)
        added.close()
        _settle(stack, f"trainq.dev/instance={instance}")


def _settle(stack: BenchStack, selector: str, wait_s: float = 90) -> int:
    """Delete the PyTorchJobs matching `selector` and wait until their pods are gone too."""
    deleted = delete_pytorchjobs(stack.custom_api(), selector)
    core = client.CoreV1Api(config.new_client_from_config(config_file=kubeconfig()))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if not core.list_pod_for_all_namespaces(label_selector=selector, limit=1).items:
            break
        time.sleep(0.5)
    return deleted


def run(stack: BenchStack, n: int, m: int, workers: int, run_for: str = "300s",
        rounds: int = 2) -> dict:  # fmt: skip
    stack.redis.flushdb()
    ours_selector = f"trainq.dev/instance={stack.instance}"
    rounds_seen, cpu, deleted, templates = [], [], 0, None
    for _ in range(rounds):
        ours, ours_cpu = trainq_rate(stack, n, workers, run_for)
        stack.stop("worker-")
        templates = templates or _templates(stack)
        deleted += _settle(stack, ours_selector)
        time.sleep(2)  # (the watcher records those PyTorchJobs gone)
        raw, raw_cpu = raw_rate(stack, templates, workers)
        only, _ = raw_rate(stack, templates, workers, policies=False)
        rounds_seen.append((ours, raw, only))
        cpu.append({"trainq": ours_cpu, "raw": raw_cpu})
    latencies = trainq_latency_with_workers(stack, m, workers, run_for)
    deleted += _settle(stack, ours_selector)
    stack.redis.flushdb()

    def mean(i: int) -> float:
        return sum(r[i] for r in rounds_seen) / len(rounds_seen)

    def median_ratio(i: int) -> float | None:
        ratio = median_low([r[0] / r[i] for r in rounds_seen if r[i]])
        return None if ratio is None else round(ratio, 3)

    def median_cpu(side: str, key: str) -> float | None:
        return median_low([c[side][key] for c in cpu if c[side]])

    ours, raw, only = mean(0), mean(1), mean(2)
    own = [round(sum(v for k, v in c["trainq"]["ms_per_job"].items() if k in TRAINQ_OWN), 2)
           for c in cpu if c["trainq"]]  # fmt: skip
    return {
        "n_queued": n,
        "workers": workers,
        "rounds": rounds,
        "trainq_rate": round(ours, 1),
        "raw_rate": round(raw, 1),
        "raw_threads": workers,
        "raw_makes": "each PyTorchJob and its peers' NetworkPolicy, as trainq does",
        "raw_rate_pytorchjob_only": round(only, 1),
        "rates_per_round": [[round(x, 1) for x in r] for r in rounds_seen],
        "ratio_of_means": round(ours / raw, 3) if raw else None,
        "ratio_vs_raw": median_ratio(1),
        "ratio_vs_pytorchjob_only": median_ratio(2),
        # ms of CPU per PyTorchJob by process over each side's window (benchmarks/cpushare.py)
        "cpu_per_job_per_round": cpu,
        "cpu_ms_per_job": {
            "trainq": median_cpu("trainq", "total_ms_per_job"),
            "raw": median_cpu("raw", "total_ms_per_job"),
            "trainq_own": median_low(own),
        },
        "pod_run_for": run_for,
        "latency_samples": len(latencies),
        "latency_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "latency_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "pytorchjobs_deleted": deleted,
        "goals": {"ratio_vs_raw": 0.9, "latency_p50_ms": 100, "latency_p99_ms": 500},
    }


def trainq_latency_with_workers(stack: BenchStack, m: int, workers: int, run_for: str) -> list:
    stack.start_workers(workers)
    deadline = time.monotonic() + 60
    while len(Worker.all(connection=stack.redis)) < workers and time.monotonic() < deadline:
        time.sleep(0.2)  # (started and listening, so no sample waits for a process start)
    try:
        return trainq_latency(stack, m, 0.1, run_for)
    finally:
        stack.stop("worker-")
