"""The Kubernetes API as dispatch and the watcher use it (the only module of queue_workers that
imports `kubernetes`): creating (or adopting), suspending or resuming, and deleting PyTorchJobs
and TrainJobs (`queue_workers.kube.backends`), reading and listing them, listing nodes and bound
pods, the watch streams of those workloads, nodes and bound pods, a job's pods and their logs,
the team namespaces and the watcher's leader-election Lease (errors: `kube.errors`)."""

import json
import logging
import sys
import threading
from collections.abc import Iterator

from kubernetes import client, watch
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from queue_workers.kube.backends import PYTORCHJOB, Backend
from queue_workers.kube.errors import Conflict, NotOurs, ResourceExpired, error_message
from queue_workers.kube.pytorchjob import is_ours, namespace_labels
from wrapper.kubeclient import api_client

log = logging.getLogger(__name__)
TIMEOUT = (5, 15)  # connect, read (seconds); well inside the dispatch lease
# A watch ends after WATCH_SECONDS and its caller resumes (or relists); the read timeout gives
# the apiserver room to end it first.
WATCH_SECONDS = 60
WATCH_TIMEOUT = (5, WATCH_SECONDS + 15)
# Only pods the scheduler has bound hold resources on a node, and on a busy cluster much of the
# churn is pods waiting to be scheduled: the apiserver leaves those out rather than sending them
# to be ignored, and terminal pods too (the scheduler stops counting them). A pod that enters
# the selector (is bound) arrives as ADDED; one that leaves it (turns terminal) as DELETED.
BOUND_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
LIST_PAGE = 500  # pods per list request: a large cluster's list is not one huge response


class Kube:
    def __init__(self, kubeconfig: str | None):
        self.api_client = api_client(kubeconfig)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)
        self.networking = client.NetworkingV1Api(self.api_client)
        self.coordination = client.CoordinationV1Api(self.api_client)
        self._known_namespaces: set[str] = set()
        # Namespaces of teams allowed to run as root: created "baseline", not "restricted".
        self.root_namespaces: set[str] = set()

    def ensure_namespace(self, name: str) -> None:
        """Create a team namespace when missing (remembered once seen), labelled with the Pod
        Security Standard it enforces (where trainq may create namespaces: the local stack;
        the chart creates them itself)."""
        if name in self._known_namespaces:
            return
        try:
            self.core.read_namespace(name, _request_timeout=TIMEOUT)
        except ApiException as exc:
            if exc.status != 404:
                raise
            labels = {"app.kubernetes.io/managed-by": "trainq",
                      **namespace_labels(name in self.root_namespaces)}  # fmt: skip
            body = {"metadata": {"name": name, "labels": labels}}
            try:
                self.core.create_namespace(body, _request_timeout=TIMEOUT)
                log.info("created namespace %s", name)
            except ApiException as create_exc:
                if create_exc.status != 409:
                    raise
        self._known_namespaces.add(name)

    def forget_namespace(self, name: str) -> None:
        self._known_namespaces.discard(name)

    def create_or_adopt(self, namespace: str, body: dict, record: dict, instance: str,
                        backend: Backend = PYTORCHJOB) -> bool:  # fmt: skip
        """Create the job's PyTorchJob or TrainJob (`backend`), and its namespace when
        missing, or adopt the one an earlier attempt created: True when adopted. NotOurs when
        the name is taken by one made for another job; apiserver errors propagate for
        `is_transient`."""
        for again in (True, False):
            try:
                self.ensure_namespace(namespace)
                return self._create_or_adopt(namespace, body, record, instance, backend)
            except ApiException as exc:
                if exc.status != 404 or not again:
                    raise
                # The namespace went away since we saw it: check (and create) it once more,
                # since a 404 is otherwise permanent.
                self.forget_namespace(namespace)
        raise AssertionError("unreachable")

    def _create_or_adopt(self, namespace: str, body: dict, record: dict, instance: str,
                         backend: Backend) -> bool:  # fmt: skip
        try:
            self.create(namespace, body, backend)
            return False
        except ApiException as exc:
            if exc.status != 409:
                raise
        name = body["metadata"]["name"]
        existing = self.get(namespace, name, backend)
        if existing is None:
            raise ApiException(status=409, reason=f"{backend.kind} {name} vanished during adoption")
        if not is_ours(existing, instance, record):
            raise NotOurs(
                f"a {backend.kind} named {namespace}/{name} exists and does not belong to this job "
                "(a leftover from before Redis lost its data; the watcher seeds new job ids "
                "above the leftovers it lists: keep it running, and delete the leftover when "
                "it is no longer needed)"
            )
        return True

    def create(self, namespace: str, body: dict, backend: Backend = PYTORCHJOB) -> dict:
        b = backend
        return self.custom.create_namespaced_custom_object(
            b.group, b.version, namespace, b.plural, body, _request_timeout=TIMEOUT
        )

    def get(self, namespace: str, name: str, backend: Backend = PYTORCHJOB) -> dict | None:
        b = backend
        try:
            return self.custom.get_namespaced_custom_object(
                b.group, b.version, namespace, b.plural, name, _request_timeout=TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def find_pod(self, namespace: str, selector: str) -> str | None:
        """The name of the newest pod matching `selector`, None when there is none."""
        response = self.core.list_namespaced_pod(
            namespace, label_selector=selector, _preload_content=False, _request_timeout=TIMEOUT
        )
        pods = json.loads(response.data).get("items") or []
        if not pods:
            return None
        return max(pods, key=lambda p: p["metadata"]["creationTimestamp"])["metadata"]["name"]

    def pod_log_tail(self, namespace: str, pod: str, container: str, keep: int) -> bytes | None:
        """The last `keep` bytes of a container's log, read as a stream (memory stays bounded
        at any log size); None when the pod is gone or its container never started."""
        try:
            response = self.core.read_namespaced_pod_log(
                pod, namespace, container=container, _preload_content=False,
                _request_timeout=(5, 120))  # fmt: skip
        except ApiException as exc:
            if exc.status in (400, 404):
                return None
            raise
        tail = b""
        try:
            for chunk in response.stream(64 * 1024):
                tail = (tail + chunk)[-keep:]
        finally:
            response.release_conn()
        return tail

    def create_network_policy(self, body: dict) -> bool:
        """Create a NetworkPolicy (`queue_workers.kube.peers`); False when it exists."""
        try:
            self.networking.create_namespaced_network_policy(
                body["metadata"]["namespace"], body, _request_timeout=TIMEOUT
            )
            return True
        except ApiException as exc:
            if exc.status == 409:
                return False
            raise

    def delete(self, namespace: str, name: str, propagation: str,
               backend: Backend = PYTORCHJOB) -> bool:  # fmt: skip
        """Delete a PyTorchJob or TrainJob; False when it was already gone. Every deletion
        trainq makes (a cancellation, a job cancelled while being created) comes here."""
        try:
            self.custom.delete_namespaced_custom_object(
                backend.group,
                backend.version,
                namespace,
                backend.plural,
                name,
                body=client.V1DeleteOptions(propagation_policy=propagation),
                _request_timeout=TIMEOUT,
            )
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def set_suspended(self, namespace: str, name: str, suspended: bool,
                      body: dict | None = None, backend: Backend = PYTORCHJOB) -> bool:  # fmt: skip
        """Suspend a PyTorchJob or TrainJob (its controller deletes the pods) or resume it (they
        are recreated): a JSON merge patch of its suspend field (`Backend.suspend_patch`), and
        when resuming with `body` (the object as dispatch built it now) of its pods' pins, so
        the pods come back where this admission counted them. False when it is gone."""
        b = backend
        try:
            self.custom.patch_namespaced_custom_object(
                b.group, b.version, namespace, b.plural, name,
                b.suspend_patch(suspended, body), _request_timeout=TIMEOUT,
            )  # fmt: skip
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def read_lease(self, namespace: str, name: str, timeout: float) -> dict | None:
        """The Lease (as plain JSON), None when there is none; `timeout`: in total, seconds."""
        try:
            response = self.coordination.read_namespaced_lease(
                name, namespace, _preload_content=False, _request_timeout=timeout
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return json.loads(response.data)

    def write_lease(self, namespace: str, body: dict, timeout: float) -> dict:
        """Create the Lease (a body without resourceVersion) or replace it (with the
        resourceVersion it was read at, so the write happens only if nobody wrote since);
        the Lease as written. Conflict when another writer got there first."""
        name = body["metadata"]["name"]
        try:
            if body["metadata"].get("resourceVersion"):
                response = self.coordination.replace_namespaced_lease(
                    name, namespace, body, _preload_content=False, _request_timeout=timeout
                )
            else:
                response = self.coordination.create_namespaced_lease(
                    namespace, body, _preload_content=False, _request_timeout=timeout
                )
        except ApiException as exc:
            if exc.status == 409:
                raise Conflict(error_message(exc)) from exc
            raise
        return json.loads(response.data)

    def list_nodes(self) -> tuple[list[dict], str]:
        """Every node (as plain JSON) and the list's resourceVersion."""
        response = self.core.list_node(_preload_content=False, _request_timeout=(5, 30))
        result = json.loads(response.data)
        return result.get("items", []), result["metadata"]["resourceVersion"]

    def list_pods(self, page: int = LIST_PAGE, field_selector: str = BOUND_PODS,
                  **selectors) -> tuple[list[dict], str]:  # fmt: skip
        """Every bound, non-terminal pod in all namespaces (as plain JSON: the client's models
        cost more than the rest of the work), or those of `field_selector` (and a
        label_selector), and the list's resourceVersion. The pages are one consistent
        snapshot, served at the first page's resourceVersion."""
        items: list[dict] = []
        more: dict = {}
        while True:
            response = self.core.list_pod_for_all_namespaces(
                field_selector=field_selector, limit=page, _preload_content=False,
                _request_timeout=(5, 60), **selectors, **more,
            )  # fmt: skip
            result = json.loads(response.data)
            items += result.get("items") or []
            token = result["metadata"].get("continue")
            if not token:
                return items, result["metadata"]["resourceVersion"]
            more = {"_continue": token}

    def list_all(self, label_selector: str,
                 backend: Backend = PYTORCHJOB) -> tuple[list[dict], str]:  # fmt: skip
        """Every matching PyTorchJob (or TrainJob) in all namespaces, and the list's
        resourceVersion."""
        b = backend
        result = self.custom.list_cluster_custom_object(
            b.group, b.version, b.plural, label_selector=label_selector,
            _request_timeout=(5, 60),
        )  # fmt: skip
        return result.get("items", []), result["metadata"]["resourceVersion"]

    def workload_events(
        self, label_selector: str, resource_version: str, stop: threading.Event,
        backend: Backend = PYTORCHJOB,
    ) -> Iterator[tuple[str, dict]]:  # fmt: skip
        """Changes to the matching PyTorchJobs (or TrainJobs) in all namespaces after
        resource_version, as (event type, object), bookmarks included, for WATCH_SECONDS or
        until stop is set. Raises ResourceExpired when resource_version is too old (410)."""
        try:
            yield from self._events(
                self.custom.list_cluster_custom_object,
                backend.group, backend.version, backend.plural,
                label_selector=label_selector, resource_version=resource_version,
                allow_watch_bookmarks=True, stop=stop,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 410:
                raise ResourceExpired(resource_version) from exc
            raise

    def node_events(
        self, resource_version: str, stop: threading.Event
    ) -> Iterator[tuple[str, dict]]:
        """Changes to the nodes after resource_version, as (event type, object), bookmarks
        included, for WATCH_SECONDS or until stop is set. Raises ResourceExpired when
        resource_version is too old (410 Gone)."""
        yield from self._raw_events(self.core.list_node, resource_version, stop)

    def pod_events(
        self, resource_version: str, stop: threading.Event, field_selector: str = BOUND_PODS,
        **selectors,
    ) -> Iterator[tuple[str, dict]]:  # fmt: skip
        """Changes to the pods of `list_pods` after resource_version, like `node_events`."""
        yield from self._raw_events(self.core.list_pod_for_all_namespaces, resource_version,
                                    stop, field_selector=field_selector, **selectors)  # fmt: skip

    def patch_pod(self, namespace: str, name: str, ops: list[dict]) -> bool:
        """Apply a JSON patch (RFC 6902) to a pod; False when the pod is gone. A failed test
        op answers 422 (ApiException)."""
        try:
            self.core.patch_namespaced_pod(name, namespace, ops, _request_timeout=TIMEOUT)
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def _raw_events(self, list_call, resource_version: str, stop: threading.Event, **kwargs):
        """A watch read as plain JSON lines: `watch.Watch` decodes every object into the
        client's models (slow on a pod storm) and, without them, cannot report an error event."""
        try:
            response = list_call(
                watch=True, resource_version=resource_version, allow_watch_bookmarks=True,
                timeout_seconds=WATCH_SECONDS, _preload_content=False,
                _request_timeout=WATCH_TIMEOUT, **kwargs,
            )  # fmt: skip
        except ApiException as exc:
            if exc.status == 410:
                raise ResourceExpired(resource_version) from exc
            raise
        try:
            for line in iter_resp_lines(response):
                if stop.is_set():
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    if status.get("code") == 410:
                        raise ResourceExpired(resource_version)
                    reason = f"{status.get('reason')}: {status.get('message')}"
                    raise ApiException(status=status.get("code"), reason=reason)
                yield event["type"], event["object"]
        finally:  # a watch left mid-stream cannot be reused: close, then hand back
            response.close()
            response.release_conn()

    def _events(self, list_call, *args, stop: threading.Event, **kwargs):
        stream = watch.Watch()
        for event in stream.stream(list_call, *args, timeout_seconds=WATCH_SECONDS,
                                   _request_timeout=WATCH_TIMEOUT, **kwargs):  # fmt: skip
            if stop.is_set():
                stream.stop()
                return
            yield event["type"], event["raw_object"]


def connect_or_exit(kubeconfig: str | None) -> "Kube":
    """For process entry points: unusable credentials stop the process with a clear message."""
    try:
        return Kube(kubeconfig)
    except Exception as exc:  # noqa: BLE001 - config errors come in many types
        where = kubeconfig or "in-cluster / ~/.kube/config"
        print(f"trainq: cannot load Kubernetes credentials ({where}): {exc}", file=sys.stderr)
        raise SystemExit(2) from None
