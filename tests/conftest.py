"""Fixtures shared by every test directory: where the local control plane and Redis are.

`make test` starts both and exports KUBECONFIG / REDIS_URL (k8s/local/env.sh); a test that needs
them and finds them down fails loudly instead of skipping, so a broken bed cannot pass quietly.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOCAL = Path(os.environ.get("TRAINQ_LOCAL", REPO / ".local"))


def _versions() -> dict[str, str]:
    out = {}
    for line in (REPO / "k8s/local/versions.env").read_text().splitlines():
        if "=" in line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


@pytest.fixture(scope="session")
def kubeconfig() -> str:
    path = os.environ.get("KUBECONFIG", str(LOCAL / "kubeconfig"))
    if not Path(path).is_file():
        pytest.fail(f"no kubeconfig at {path}: run `make cluster-up` (make test does it)")
    return path


@pytest.fixture(scope="session")
def kubectl_bin() -> str:
    """The kubectl built alongside the control plane (same version), else one on PATH."""
    cache = Path(os.environ.get("TRAINQ_CACHE", Path.home() / ".cache/trainq"))
    built = cache / "bin" / f"k8s-{_versions()['K8S_VERSION']}" / "kubectl"
    if built.is_file():
        return str(built)
    found = shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: run `make cluster-up`")
    return found


@pytest.fixture(scope="session")
def kube_api(kubeconfig):
    """A kubernetes ApiClient for the local control plane."""
    from kubernetes import client, config

    api = config.new_client_from_config(config_file=kubeconfig)
    try:
        client.VersionApi(api).get_code()
    except Exception as exc:  # noqa: BLE001 - any failure means the bed is down
        pytest.fail(f"control plane unreachable with {kubeconfig}: {exc}")
    return api
