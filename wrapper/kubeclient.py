"""A Kubernetes API client from KUBECONFIG (or in-cluster credentials), the API's readiness
check of the apiserver, and its read of a pod's log (the logs endpoint). The queue workers'
calls live in `queue_workers.kube`."""

import json
import threading

from kubernetes import client, config


def api_client(kubeconfig: str | None) -> client.ApiClient:
    if kubeconfig:
        return config.new_client_from_config(config_file=kubeconfig)
    try:
        config.load_incluster_config()
        return client.ApiClient()
    except config.ConfigException:
        return config.new_client_from_config()


class ApiserverProbe:
    """Readiness check of the apiserver; the client is built lazily so a missing
    kubeconfig shows as 'apiserver: ...' in /readyz rather than a crash at start."""

    def __init__(self, kubeconfig: str | None):
        self.kubeconfig = kubeconfig
        self._client = None
        self._lock = threading.Lock()

    def check(self) -> str | None:
        try:
            with self._lock:
                if self._client is None:
                    self._client = api_client(self.kubeconfig)
            client.VersionApi(self._client).get_code(_request_timeout=3)
            return None
        except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"


class LogUnavailable(Exception):
    """The pod exists but its log cannot be read now: its container has not started (400), or
    the apiserver could not reach its node (5xx: `node_unreachable`)."""

    def __init__(self, message: str, node_unreachable: bool = False):
        super().__init__(message)
        self.node_unreachable = node_unreachable


class PodLogs:
    """The API's one read of the cluster besides its probe: a pod's log through the apiserver
    (`pods/log` get in the team namespaces; the chart's api Role grants only that). The client
    is built lazily, as the probe's."""

    def __init__(self, kubeconfig: str | None):
        self.kubeconfig = kubeconfig
        self._client = None
        self._lock = threading.Lock()

    def find(self, namespace: str, selector: str) -> str | None:
        """The newest pod matching `selector` (a TrainJob's node: `logs.pod_of`), None if none;
        needs `list` on pods in the team namespaces (the chart grants it with Trainer v2)."""
        with self._lock:
            if self._client is None:
                self._client = api_client(self.kubeconfig)
        pods = (
            client.CoreV1Api(self._client)
            .list_namespaced_pod(namespace, label_selector=selector, _request_timeout=(5, 30))
            .items
        )
        if not pods:
            return None
        return max(pods, key=lambda p: p.metadata.creation_timestamp).metadata.name

    def open(self, namespace: str, pod: str, container: str, tail_lines: int | None,
             follow: bool):  # fmt: skip
        """A streaming response (`.stream(n)` yields bytes; `.release_conn()` when done), or
        None when the pod does not exist. Raises LogUnavailable."""
        with self._lock:
            if self._client is None:
                self._client = api_client(self.kubeconfig)
        kwargs = {"container": container, "follow": follow, "_preload_content": False,
                  "_request_timeout": (5, None if follow else 60)}  # fmt: skip
        if tail_lines is not None:
            kwargs["tail_lines"] = tail_lines
        try:
            return client.CoreV1Api(self._client).read_namespaced_pod_log(pod, namespace, **kwargs)
        except client.ApiException as exc:
            if exc.status == 404:
                return None
            if exc.status == 400:  # e.g. "container ... is waiting to start"
                raise LogUnavailable(_message(exc)) from None
            if exc.status and exc.status >= 500:  # the apiserver could not reach the kubelet
                raise LogUnavailable(_message(exc), node_unreachable=True) from None
            raise


def _message(exc) -> str:
    try:
        return json.loads(exc.body).get("message") or exc.reason
    except (TypeError, ValueError, AttributeError):
        return str(exc.reason)
