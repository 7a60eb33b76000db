"""Client-side measurement for the side-by-side benchmark: a watch on PyTorchJobs that records,
per job, when it was first seen admitted (it exists with `spec.runPolicy.suspend` not true:
created by trainq at admission, or unsuspended by Kueue), how often it was suspended again
(preempted), whether it ended, and its spans of admission ([admitted, suspended or ended]);
and the CPU-seconds of process trees from /proc."""

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kubernetes import client, config, watch

from benchmarks.stack import kubeconfig

TICK = os.sysconf("SC_CLK_TCK")


class JobWatch:
    """Watches PyTorchJobs matching `selector` (all namespaces) in a thread; `key(obj)` names
    the job (None: ignore). Times are time.monotonic() at the event's arrival."""

    def __init__(self, selector: str, key: Callable[[dict], str | None]):
        self.selector, self.key = selector, key
        self.jobs: dict[str, dict] = {}
        self.cond = threading.Condition()
        self._stop = threading.Event()
        self._api = client.CustomObjectsApi(config.new_client_from_config(config_file=kubeconfig()))
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobwatch", daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("PyTorchJob watch did not start")

    def _observe(self, obj: dict, now: float) -> None:
        name = self.key(obj)
        if name is None:
            return
        suspended = bool(((obj.get("spec") or {}).get("runPolicy") or {}).get("suspend"))
        conds = (obj.get("status") or {}).get("conditions") or []
        done = any(c.get("type") in ("Succeeded", "Failed") and c.get("status") == "True"
                   for c in conds)  # fmt: skip
        with self.cond:
            new = {"started": None, "running": False, "starts": 0, "suspensions": 0,
                   "done": False, "spans": []}  # fmt: skip
            j = self.jobs.setdefault(name, new)
            if not suspended and not j["running"]:
                j["running"] = True
                j["starts"] += 1
                j["spans"].append([now, None])
                if j["started"] is None:
                    j["started"] = now
            elif suspended and j["running"]:
                j["running"] = False
                j["suspensions"] += 1
                j["spans"][-1][1] = now
            if done and not j["done"] and j["spans"] and j["spans"][-1][1] is None:
                j["spans"][-1][1] = now
            j["done"] = j["done"] or done
            self.cond.notify_all()

    def _run(self) -> None:
        args = ("kubeflow.org", "v1", "pytorchjobs")
        rv = None
        while not self._stop.is_set():
            try:
                if rv is None:
                    listed = self._api.list_cluster_custom_object(
                        *args, label_selector=self.selector
                    )
                    now = time.monotonic()
                    for obj in listed["items"]:
                        self._observe(obj, now)
                    rv = listed["metadata"]["resourceVersion"]
                    self._ready.set()
                w = watch.Watch()
                for ev in w.stream(self._api.list_cluster_custom_object, *args,
                                   label_selector=self.selector, resource_version=rv,
                                   timeout_seconds=20, allow_watch_bookmarks=True):  # fmt: skip
                    now = time.monotonic()
                    obj = ev["object"]
                    rv = obj["metadata"].get("resourceVersion", rv)
                    if ev["type"] in ("ADDED", "MODIFIED"):
                        self._observe(obj, now)
                    if self._stop.is_set():
                        w.stop()
                        break
            except client.ApiException as exc:
                if exc.status == 410:  # too old: list again (times already seen are kept)
                    rv = None
                else:
                    time.sleep(0.5)
            except Exception:  # noqa: BLE001 - a broken stream is reopened
                time.sleep(0.2)

    def close(self) -> None:
        self._stop.set()

    def wait(self, pred: Callable[[dict[str, dict]], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.jobs):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"timed out after {timeout}s waiting for {what}")
                self.cond.wait(min(left, 1.0))

    def started(self, keys: list[str], timeout: float, what: str) -> dict[str, float]:
        def ok(jobs):
            return all(jobs.get(k, {}).get("started") for k in keys)

        self.wait(ok, timeout, what)
        with self.cond:
            return {k: self.jobs[k]["started"] for k in keys}

    def count(self, keys: list[str], field: str) -> int:
        with self.cond:
            return sum(1 for k in keys if self.jobs.get(k, {}).get(field))


# --- CPU ---------------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, utime+stime+cutime+cstime in seconds) of a live process."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    # after the comm: state ppid ... utime(14th field overall -> index 11 here) stime cutime cstime
    return int(fields[1]), sum(int(x) for x in fields[11:15]) / TICK


def tree_cpu_seconds(roots: list[int]) -> float:
    """CPU-seconds used so far by `roots` and their live descendants (children that ended and
    were reaped count in their parent's cutime/cstime)."""
    return trees_cpu_seconds({"": roots})[""]


def trees_cpu_seconds(groups: dict[str, list[int]]) -> dict[str, float]:
    """`tree_cpu_seconds` of each group of roots, from one reading of /proc."""
    stats: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            s = _stat(int(entry))
            if s:
                stats[int(entry)] = s
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in stats.items():
        children.setdefault(ppid, []).append(pid)
    out = {}
    for name, roots in groups.items():
        total, todo, seen = 0.0, list(roots), set()
        while todo:
            pid = todo.pop()
            if pid in seen or pid not in stats:
                continue
            seen.add(pid)
            total += stats[pid][1]
            todo += children.get(pid, [])
        out[name] = total
    return out
