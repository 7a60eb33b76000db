"""Helpers for the deployment tests: the pinned helm/kubectl builds, running them, and reading
multi-document YAML renders. Binaries are looked up in $TRAINQ_CACHE/bin/<component>-<version>
(versions from k8s/local/versions.env), the same place k8s/local/build.sh puts them."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from tests.support import REPO

CHART = REPO / "helm/trainq"
BASE = REPO / "k8s/base"

SUBRESOURCES = ("pods/log", "pods/exec")  # for can_i


def versions() -> dict[str, str]:
    out = {}
    for line in (REPO / "k8s/local/versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def cache_dir() -> Path:
    return Path(os.environ.get("TRAINQ_CACHE", Path.home() / ".cache/trainq"))


def cached_binary(name: str) -> Path:
    """helm or kubectl from the build cache; where it should be when it is not there."""
    v = versions()
    folder = {"helm": f"helm-{v['HELM_VERSION']}", "kubectl": f"k8s-{v['K8S_VERSION']}"}[name]
    return cache_dir() / "bin" / folder / name


def unique(prefix: str = "deploytest") -> str:
    """A name no other test (or parallel run) uses: <prefix>-<8 hex>."""
    return f"{prefix}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Tools:
    helm_bin: Path
    kubectl_bin: Path
    kubeconfig: str

    def _run(self, argv: list, stdin: str | None, check: bool, timeout: float):
        env = {**os.environ, "KUBECONFIG": self.kubeconfig}
        # Keep helm's caches and repository config out of the developer's home.
        env.setdefault("HELM_CACHE_HOME", str(cache_dir() / "helm/cache"))
        env.setdefault("HELM_CONFIG_HOME", str(cache_dir() / "helm/config"))
        env.setdefault("HELM_DATA_HOME", str(cache_dir() / "helm/data"))
        proc = subprocess.run(
            [str(a) for a in argv],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, argv[:4]))} ... failed ({proc.returncode}):\n"
                f"{proc.stderr or proc.stdout}"
            )
        return proc

    def helm(self, *args, stdin=None, check=True, timeout=120):
        return self._run([self.helm_bin, *args], stdin, check, timeout)

    def kubectl(self, *args, stdin=None, check=True, timeout=60):
        return self._run([self.kubectl_bin, *args], stdin, check, timeout)

    def template(self, release: str, namespace: str, values: dict | None = None) -> str:
        return self.helm(
            "template",
            release,
            CHART,
            "--namespace",
            namespace,
            "--values",
            "-",
            stdin=json.dumps(values or {}),
        ).stdout

    def can_i(self, sa: str, verb: str, resource: str, namespace: str | None = None, **kw):
        """`kubectl auth can-i` as the service account `<ns>:<name>`; True/False."""
        # `pods/log` would read as the pod named "log": a subresource is its own flag.
        resource, _, sub = (
            resource.partition("/") if resource in SUBRESOURCES else (resource, "", "")
        )
        args = ["auth", "can-i", verb, resource, f"--as=system:serviceaccount:{sa}"]
        args += [f"--subresource={sub}"] if sub else []
        args += ["-n", namespace] if namespace else []
        proc = self.kubectl(*args, check=False)
        answer = proc.stdout.strip()
        if answer not in ("yes", "no"):
            raise AssertionError(f"kubectl auth can-i {verb} {resource}: {proc.stderr}")
        return answer == "yes"

    def delete_namespaces(self, names) -> None:
        if names:
            self.kubectl("delete", "namespace", "--ignore-not-found", "--wait=false", *names)


def documents(text: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(text) if d]


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


def one(docs: list[dict], kind: str, name_suffix: str = "") -> dict:
    found = [d for d in by_kind(docs, kind) if d["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} *{name_suffix}, got {len(found)}"
    return found[0]


def team(name: str, namespace: str, **extra) -> dict:
    """A team entry of the chart's values."""
    quota = extra.pop("quota", {"maxRunningJobs": 4, "cpu": "8", "memory": "32Gi", "gpu": 2})
    return {"name": name, "namespace": namespace, "quota": quota, **extra}
