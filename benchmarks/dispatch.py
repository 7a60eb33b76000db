"""2. Dispatch: with N jobs queued and capacity free, PyTorchJobs created per second by the RQ
workers, against a raw loop creating the same objects with the kubernetes client on the same
apiserver (copies of the PyTorchJob trainq created, as many loop threads as there are
workers); then p50/p99 from submission (just
before the POST) to the PyTorchJob existing (its ADDED event on a watch), with idle workers
and one submission at a time.

Both rates are (N - 1) / (last ADDED - first ADDED) seen by the same watch, so process start-up
is not counted on either side. The two sides alternate for `rounds` rounds (the figure is the
median of the per-round ratios: on a shared 2-core machine a single pair swings by 1.5x), and
each starts on a settled control plane: the previous side's PyTorchJobs and their pods gone.
Simulated pods run longer than any window (trainq.dev/sim-run-for), so no side's window also
carries the operator's and the watcher's work for finished jobs (with 3 s pods, trainq's
slower window did and the raw loop's did not).
"""

import copy
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from kubernetes import client, config, watch
from rq import Worker

from benchmarks.stack import BenchStack, delete_pytorchjobs, job_body, kubeconfig, submit
from benchmarks.stats import percentile
from queue_workers.kube import pytorchjob


class AddedWatch:
    """Times the ADDED event of every PyTorchJob matching a label selector."""

    def __init__(self, selector: str):
        self.selector = selector
        self.api = client.CustomObjectsApi(config.new_client_from_config(config_file=kubeconfig()))
        self.added: dict[str, float] = {}
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
                if event["type"] == "ADDED":
                    self.added.setdefault(obj["metadata"]["name"], now)
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

    def close(self):
        self._stop.set()
        self._thread.join(10)


def _submit(session: requests.Session, base: str, body: dict) -> int:
    return submit(session, base, "alpha", body)["id"]


def trainq_rate(stack: BenchStack, n: int, workers: int, run_for: str) -> float:
    session = requests.Session()
    for _ in range(n):
        _submit(session, stack.base, job_body("queued", run_for))
    added = AddedWatch(f"trainq.dev/instance={stack.instance}")
    try:
        stack.start_workers(workers)
        added.wait_for(n, timeout=60 + n)
        return added.rate()
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


def _template(stack: BenchStack) -> dict:
    """One PyTorchJob exactly as trainq's workers created it (server-set fields removed)."""
    items = stack.custom_api().list_cluster_custom_object(
        "kubeflow.org", "v1", "pytorchjobs", label_selector=f"trainq.dev/instance={stack.instance}",
        limit=1,
    )["items"]  # fmt: skip
    obj = items[0]
    meta = obj["metadata"]
    keep = ("namespace", "labels", "annotations")
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": {k: meta[k] for k in keep if k in meta},
        "spec": obj["spec"],
    }


def raw_rate(stack: BenchStack, template: dict, n: int, threads: int) -> float:
    """The same PyTorchJob as trainq created (copied from one of them, under another instance
    label and name), created in a plain loop with the kubernetes client, `threads` loops at a
    time."""
    instance = "r" + secrets.token_hex(4)
    namespace = template["metadata"]["namespace"]
    bodies = []
    for i in range(1, n + 1):
        body = copy.deepcopy(template)
        body["metadata"]["name"] = f"{instance}-{i}"
        body["metadata"]["labels"]["trainq.dev/instance"] = instance
        for replica in body["spec"]["pytorchReplicaSpecs"].values():  # (their pods: _settle)
            replica["template"]["metadata"]["labels"]["trainq.dev/instance"] = instance
        bodies.append(body)
    local = threading.local()

    def create(body):
        if not hasattr(local, "api"):
            local.api = client.CustomObjectsApi(
                config.new_client_from_config(config_file=kubeconfig())
            )
        local.api.create_namespaced_custom_object(
            "kubeflow.org", "v1", namespace, "pytorchjobs", body, _request_timeout=(5, 15)
        )

    added = AddedWatch(f"trainq.dev/instance={instance}")
    try:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(create, bodies))
        added.wait_for(n, timeout=60)
        return added.rate()
    finally:
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
    pairs, deleted, template = [], 0, None
    for _ in range(rounds):
        ours = trainq_rate(stack, n, workers, run_for)
        stack.stop("worker-")
        template = template or _template(stack)
        deleted += _settle(stack, ours_selector)
        time.sleep(2)  # (the watcher records those PyTorchJobs gone)
        raw = raw_rate(stack, template, n, workers)
        pairs.append((ours, raw))
    latencies = trainq_latency_with_workers(stack, m, workers, run_for)
    deleted += _settle(stack, ours_selector)
    stack.redis.flushdb()
    ratios = sorted(o / r for o, r in pairs if r)
    ours = sum(o for o, _ in pairs) / len(pairs)
    raw = sum(r for _, r in pairs) / len(pairs)
    return {
        "n_queued": n,
        "workers": workers,
        "rounds": rounds,
        "trainq_rate": round(ours, 1),
        "raw_rate": round(raw, 1),
        "raw_threads": workers,
        "rates_per_round": [[round(o, 1), round(r, 1)] for o, r in pairs],
        "ratio_of_means": round(ours / raw, 3) if raw else None,
        "ratio_vs_raw": round(ratios[(len(ratios) - 1) // 2], 3) if ratios else None,
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
