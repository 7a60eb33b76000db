"""A Kubernetes API client from KUBECONFIG (or in-cluster credentials), and the API's
readiness check of the apiserver. The queue workers' calls live in `queue_workers.kube`."""

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
