"""Fixtures for the deployment tests (image, kustomize base, Helm chart)."""

import pytest

from tests.deploy.tools import Tools, cached_binary


def _binary(name: str):
    path = cached_binary(name)
    if not path.is_file():
        pytest.fail(f"{name} not found at {path}: run `k8s/local/build.sh {name}`")
    return path


@pytest.fixture(scope="session")
def helm_bin():
    return _binary("helm")


@pytest.fixture(scope="session")
def kubectl_path():
    return _binary("kubectl")


@pytest.fixture(scope="session")
def tools(helm_bin, kubectl_path, kubeconfig) -> Tools:
    """helm and kubectl for the local control plane (fails if the control plane is down)."""
    t = Tools(helm_bin, kubectl_path, kubeconfig)
    proc = t.kubectl("version", "-o", "json", check=False, timeout=20)
    if proc.returncode != 0:
        pytest.fail(f"control plane unreachable with {kubeconfig}: {proc.stderr.strip()}")
    return t


@pytest.fixture(scope="session")
def offline_tools(helm_bin, kubectl_path) -> Tools:
    """helm and kubectl for commands that need no cluster (lint, template, kustomize)."""
    return Tools(helm_bin, kubectl_path, "/dev/null")
