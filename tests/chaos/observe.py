"""What the chaos run watches from outside trainq: every PyTorchJob of its instance (a watch
that resumes from its last resourceVersion across apiserver outages, so a job created and
deleted in between is still counted), and how far each job record trails its PyTorchJob."""

import threading
import time
from collections import defaultdict

import redis
from kubernetes import client, config, watch

from queue_workers.kube.status import observe
from wrapper.redis import keys

# How far along a status is, to tell a record that trails its PyTorchJob from one ahead of it.
RANK = {"created": 1, "running": 2, "restarting": 2, "succeeded": 3, "failed": 3}
TERMINAL_RECORD = {"succeeded", "failed", "cancelled"}


class PyTorchJobWatch(threading.Thread):
    """Creations per job id (distinct uids), the time each was first seen, and the status each
    PyTorchJob shows with the time this watch first saw it."""

    def __init__(self, kubeconfig: str, instance: str):
        super().__init__(daemon=True, name="pytorchjob-watch")
        self.kubeconfig, self.selector = kubeconfig, f"trainq.dev/instance={instance}"
        self.lock = threading.Lock()
        self.uids: dict[int, set[str]] = defaultdict(set)
        self.created_at: list[float] = []  # monotonic, one per new uid
        self.observed: dict[int, tuple[str, float]] = {}  # job id -> (status, first seen)
        self.stop = threading.Event()
        self.reconnects = 0

    def _handle(self, obj: dict) -> None:
        meta = obj.get("metadata") or {}
        job_id = int((meta.get("labels") or {}).get("trainq.dev/job-id", -1))
        if job_id < 0:
            return
        status = observe(obj).status.value
        now = time.monotonic()
        with self.lock:
            if meta["uid"] not in self.uids[job_id]:
                self.uids[job_id].add(meta["uid"])
                self.created_at.append(now)
            if self.observed.get(job_id, ("", 0))[0] != status:
                self.observed[job_id] = (status, now)

    def run(self) -> None:
        rv = None
        while not self.stop.is_set():
            try:
                custom = client.CustomObjectsApi(
                    config.new_client_from_config(config_file=self.kubeconfig)
                )
                if rv is None:
                    listed = custom.list_cluster_custom_object(
                        "kubeflow.org", "v1", "pytorchjobs", label_selector=self.selector
                    )
                    for obj in listed["items"]:
                        self._handle(obj)
                    rv = listed["metadata"]["resourceVersion"]
                stream = watch.Watch().stream(
                    custom.list_cluster_custom_object, "kubeflow.org", "v1", "pytorchjobs",
                    label_selector=self.selector, resource_version=rv, timeout_seconds=30,
                    allow_watch_bookmarks=True,
                )  # fmt: skip
                for event in stream:
                    obj = event["object"]
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if event["type"] != "BOOKMARK":
                        self._handle(obj)
                    if self.stop.is_set():
                        return
            except client.ApiException as exc:
                if exc.status == 410:  # too old: list again (deletions in between go unseen)
                    rv = None
                self.reconnects += 1
                time.sleep(0.5)
            except Exception:  # noqa: BLE001 - apiserver down: keep trying from rv
                self.reconnects += 1
                time.sleep(0.5)

    def creations_after(self, at: float) -> float | None:
        """The first PyTorchJob creation seen after monotonic time `at`, as seconds after it."""
        with self.lock:
            later = [t for t in self.created_at if t >= at]
        return min(later) - at if later else None


class Staleness(threading.Thread):
    """Every `interval` s: for each job whose PyTorchJob shows a status its record does not
    yet show, read the record; once it does, the delay since the watch first saw the status
    is one staleness sample (resolution: `interval`)."""

    def __init__(self, jobs: PyTorchJobWatch, redis_url: str, interval: float = 0.5):
        super().__init__(daemon=True, name="staleness")
        self.jobs, self.interval = jobs, interval
        self.redis = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
        self.samples: list[float] = []
        self.matched: dict[int, str] = {}
        self.stop = threading.Event()

    def _pending(self) -> dict[int, tuple[str, float]]:
        with self.jobs.lock:
            observed = dict(self.jobs.observed)
        return {j: o for j, o in observed.items() if self.matched.get(j) != o[0]}

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            pending = self._pending()
            if not pending:
                continue
            try:
                with self.redis.pipeline(transaction=False) as pipe:
                    for job_id in pending:
                        pipe.hget(keys.job_key(job_id), "status")
                    statuses = pipe.execute()
            except redis.exceptions.RedisError:
                continue  # Redis down (a fault): the samples taken after it include the wait
            now = time.monotonic()
            for (job_id, (status, seen)), raw in zip(pending.items(), statuses, strict=True):
                record = raw.decode() if raw else None  # (status is stored raw)
                caught_up = record in TERMINAL_RECORD or (
                    record in RANK and RANK[record] >= RANK.get(status, 0)
                )
                if caught_up:
                    self.matched[job_id] = status
                    self.samples.append(max(0.0, now - seen))
