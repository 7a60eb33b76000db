"""The Kubernetes API as dispatch and the watcher use it (the only callers): PyTorchJob
create/get/delete/list/watch, namespaces, and telling transient errors from permanent ones."""

import json
import logging
import sys

import urllib3
from kubernetes import client
from kubernetes.client.rest import ApiException

from queue_workers.kube.pytorchjob import GROUP, PLURAL, VERSION
from wrapper.kubeclient import api_client

log = logging.getLogger(__name__)
TIMEOUT = (5, 15)  # connect, read (seconds); well inside the dispatch lease
# 404 (namespace or CRD not there yet), 401/403 (credentials, RBAC, an exhausted
# ResourceQuota) and 409 (a namespace terminating) are fixed by time or an operator, not by
# changing the job; 400/422 and the rest of 4xx mean the object itself is refused.
_TRANSIENT_STATUSES = {0, 401, 403, 404, 408, 409, 429}


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException):
        return exc.status in _TRANSIENT_STATUSES or (exc.status or 0) >= 500
    return isinstance(exc, (urllib3.exceptions.HTTPError, OSError, TimeoutError))


def error_message(exc: BaseException) -> str:
    """The apiserver's own message when there is one."""
    if isinstance(exc, ApiException):
        try:
            body = json.loads(exc.body or "")
            if isinstance(body, dict) and body.get("message"):
                return f"{exc.status} {body.get('reason') or exc.reason}: {body['message']}"
        except (TypeError, ValueError):
            pass
        return f"{exc.status} {exc.reason}"
    return f"{type(exc).__name__}: {exc}"


class Kube:
    def __init__(self, kubeconfig: str | None):
        self.api_client = api_client(kubeconfig)
        self.custom = client.CustomObjectsApi(self.api_client)
        self.core = client.CoreV1Api(self.api_client)
        self._known_namespaces: set[str] = set()

    def ensure_namespace(self, name: str) -> None:
        """Create a team namespace when missing (remembered once seen)."""
        if name in self._known_namespaces:
            return
        try:
            self.core.read_namespace(name, _request_timeout=TIMEOUT)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = {
                "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "trainq"}}
            }
            try:
                self.core.create_namespace(body, _request_timeout=TIMEOUT)
                log.info("created namespace %s", name)
            except ApiException as create_exc:
                if create_exc.status != 409:
                    raise
        self._known_namespaces.add(name)

    def forget_namespace(self, name: str) -> None:
        self._known_namespaces.discard(name)

    def create(self, namespace: str, body: dict) -> dict:
        return self.custom.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, body, _request_timeout=TIMEOUT
        )

    def get(self, namespace: str, name: str) -> dict | None:
        try:
            return self.custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, name, _request_timeout=TIMEOUT
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def delete(self, namespace: str, name: str, propagation: str) -> bool:
        """Delete a PyTorchJob; False when it was already gone."""
        try:
            self.custom.delete_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                name,
                body=client.V1DeleteOptions(propagation_policy=propagation),
                _request_timeout=TIMEOUT,
            )
            return True
        except ApiException as exc:
            if exc.status == 404:
                return False
            raise

    def list_nodes(self) -> tuple[list[dict], str]:
        """Every node (as plain JSON) and the list's resourceVersion."""
        response = self.core.list_node(_preload_content=False, _request_timeout=(5, 30))
        result = json.loads(response.data)
        return result.get("items", []), result["metadata"]["resourceVersion"]

    def list_all(self, label_selector: str) -> tuple[list[dict], str]:
        """Every matching PyTorchJob in all namespaces, and the list's resourceVersion."""
        result = self.custom.list_cluster_custom_object(
            GROUP, VERSION, PLURAL, label_selector=label_selector, _request_timeout=(5, 60)
        )
        return result.get("items", []), result["metadata"]["resourceVersion"]


def connect_or_exit(kubeconfig: str | None) -> "Kube":
    """For process entry points: unusable credentials stop the process with a clear message."""
    try:
        return Kube(kubeconfig)
    except Exception as exc:  # noqa: BLE001 - config errors come in many types
        where = kubeconfig or "in-cluster / ~/.kube/config"
        print(f"trainq: cannot load Kubernetes credentials ({where}): {exc}", file=sys.stderr)
        raise SystemExit(2) from None
