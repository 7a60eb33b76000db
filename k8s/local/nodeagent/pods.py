"""The pods bound to this node: a list+watch on spec.nodeName that starts a PodRunner for each
new pod, asks runners to stop when a pod is being deleted, and finishes deletions of pods that
have nothing running. Also what the log server asks: where a container's log is, and whether
it is still being written.

Restart safety: a fresh agent cannot adopt processes a previous one started (it could not
wait for them or learn their exit codes), so at start-up it kills whatever its predecessor
recorded; runners then report those containers as lost (exit 137) and apply the pod's restart
policy: restarted in place under OnFailure/Always, Failed under Never."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from .envrewrite import job_of
from .runner import GONE, PodRunner, RunnerContext, grace_seconds, kill_leftovers

log = logging.getLogger(__name__)
WATCH_TIMEOUT_S = 300


class PodManager:
    def __init__(self, api: client.CoreV1Api, node_name: str, ctx: RunnerContext):
        self.api, self.node_name, self.ctx = api, node_name, ctx
        ctx.on_done = self._runner_done
        self._lock = threading.Lock()
        self._runners: dict[str, PodRunner] = {}
        self._shutting_down = False

    # --- start-up
    def recover(self) -> list[dict]:
        """Kills processes left by a previous agent and forgets records of pods that are gone.
        Returns the node's pods (the first list)."""
        pods, _ = self._list()
        for record in self.ctx.layout.pods.glob("*.json"):
            killed = kill_leftovers(record)
            if killed:
                log.warning("killed %d leftover process(es) of pod record %s", killed, record.stem)
            record.unlink(missing_ok=True)
        return pods

    # --- the watch loop (runs on its own thread until the process exits)
    def run_forever(self) -> None:
        resource_version = None
        while not self._shutting_down:
            try:
                if resource_version is None:
                    pods, resource_version = self._list()
                    self._resync(pods)
                resource_version = self._watch(resource_version)
            except ApiException as exc:
                if exc.status != 410:
                    log.warning("pod watch failed: %s", exc)
                    time.sleep(1)
                resource_version = None  # 410 Gone: our resourceVersion is too old; relist
            except Exception as exc:  # noqa: BLE001 - apiserver restarts, dropped connections
                log.warning("pod watch failed: %s", exc)
                time.sleep(1)
                resource_version = None

    def _list(self) -> tuple[list[dict], str]:
        resp = self.api.list_pod_for_all_namespaces(
            field_selector=f"spec.nodeName={self.node_name}", _preload_content=False
        )
        data = json.loads(resp.data)
        return data["items"], data["metadata"]["resourceVersion"]

    def _watch(self, resource_version: str) -> str:
        w = watch.Watch()
        for event in w.stream(
            self.api.list_pod_for_all_namespaces,
            field_selector=f"spec.nodeName={self.node_name}",
            resource_version=resource_version,
            timeout_seconds=WATCH_TIMEOUT_S,
            allow_watch_bookmarks=True,
            deserialize=False,  # we work on plain dicts; skip building client models
        ):
            raw = event["object"]
            resource_version = raw["metadata"]["resourceVersion"]
            if event["type"] != "BOOKMARK":
                self.handle(event["type"], raw)
        return resource_version

    def _resync(self, pods: list[dict]) -> None:
        present = {p["metadata"]["uid"] for p in pods}
        with self._lock:
            vanished = [r for uid, r in self._runners.items() if uid not in present]
        for runner in vanished:  # deleted while we were not watching
            runner.request_stop(0, delete=False)
        for pod in pods:
            self.handle("ADDED", pod)

    # --- one event
    def handle(self, event_type: str, pod: dict) -> None:
        meta = pod["metadata"]
        uid = meta["uid"]
        with self._lock:
            runner = self._runners.get(uid)
        if event_type == "DELETED":
            if runner:  # force-deleted (grace 0) by someone else: just stop
                runner.request_stop(0, delete=False)
            return
        if meta.get("deletionTimestamp"):
            if runner:
                if not runner.stop_requested:
                    runner.request_stop(grace_seconds(pod), delete=True)
            else:
                self._delete(pod)
            return
        phase = (pod.get("status") or {}).get("phase")
        if runner or phase in ("Succeeded", "Failed") or self._shutting_down:
            return
        runner = PodRunner(pod, self.ctx)
        with self._lock:
            self._runners[uid] = runner
        log.info("pod %s/%s (%s): starting", meta["namespace"], meta["name"], uid)
        runner.start()

    def _delete(self, pod: dict) -> None:
        meta = pod["metadata"]
        body = client.V1DeleteOptions(
            grace_period_seconds=0, preconditions=client.V1Preconditions(uid=meta["uid"])
        )
        try:
            self.api.delete_namespaced_pod(meta["name"], meta["namespace"], body=body)
        except ApiException as exc:
            if exc.status not in GONE:
                log.warning("pod %s/%s: delete failed: %s", meta["namespace"], meta["name"], exc)

    def _runner_done(self, runner: PodRunner) -> None:
        job = job_of(runner.pod)
        with self._lock:
            self._runners.pop(runner.uid, None)
            job_alive = job and any(job_of(r.pod) == job for r in self._runners.values())
        if job and not job_alive:
            self.ctx.ports.forget(job)

    # --- shutdown
    def shutdown(self, grace: float) -> None:
        """Stops every pod's processes (the pods stay in the API; a restarted agent reports
        them as lost). The node is going away, so the grace period is capped."""
        self._shutting_down = True
        with self._lock:
            runners = list(self._runners.values())
        for runner in runners:
            runner.request_stop(min(grace, grace_seconds(runner.pod)), delete=False)
        for runner in runners:
            runner.join(timeout=grace + 10)

    # --- for the log server
    def _runner_for(self, namespace: str, pod: str) -> PodRunner | None:
        with self._lock:
            return next(
                (
                    r
                    for r in self._runners.values()
                    if r.namespace == namespace and r.pod_name == pod
                ),
                None,
            )

    def log_path(self, namespace: str, pod: str, container: str, previous: bool) -> Path | None:
        layout = self.ctx.layout
        runner = self._runner_for(namespace, pod)
        if runner:
            pod_dir = layout.pod_log_dir(namespace, pod, runner.uid)
        else:
            pod_dir = layout.newest_pod_log_dir(namespace, pod)
        if pod_dir is None:
            return None
        path = pod_dir / (f"{container}.previous.log" if previous else f"{container}.log")
        return path if path.exists() else None

    def is_writing(self, namespace: str, pod: str, container: str) -> bool:
        runner = self._runner_for(namespace, pod)
        return bool(runner and runner.is_running(container))
