"""The pods trainq builds meet the "restricted" Pod Security Standard that the team namespaces
enforce (the checks of k8s.io/pod-security-admission, restricted level, written out below),
and so does the Worker pod once the training operator adds its init container from the
template the local stack gives it (k8s/local/pytorch-init-container.yaml); a team allowed root
meets "baseline" only. tests/integration/dispatch/test_pod_security.py asks a real apiserver."""

import copy
import re

import pytest
import yaml
from kubernetes.client.rest import ApiException

from queue_workers.kube import pytorchjob
from queue_workers.kube.client import Kube
from tests.support import REPO
from tests.unit.conftest import record

INIT_TEMPLATE = REPO / "k8s/local/pytorch-init-container.yaml"
SAFE_SYSCTLS = {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range",
                "net.ipv4.ip_unprivileged_port_start", "net.ipv4.tcp_syncookies",
                "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
                "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout",
                "net.ipv4.tcp_keepalive_intvl", "net.ipv4.tcp_keepalive_probes"}  # fmt: skip
RESTRICTED_VOLUMES = {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral",
                      "persistentVolumeClaim", "projected", "secret"}  # fmt: skip


def baseline_violations(pod: dict) -> list[str]:
    spec, out = pod["spec"], []
    containers = spec.get("initContainers", []) + spec["containers"]
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        if spec.get(key):
            out.append(key)
    if any("hostPath" in v for v in spec.get("volumes", [])):
        out.append("hostPath volume")
    for c in containers:
        sc = c.get("securityContext") or {}
        if sc.get("privileged"):
            out.append(f"{c['name']}: privileged")
        if set((sc.get("capabilities") or {}).get("add", [])) - {
            "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
            "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
        }:  # fmt: skip
            out.append(f"{c['name']}: capabilities beyond the default set")
        if any(p.get("hostPort") for p in c.get("ports", [])):
            out.append(f"{c['name']}: hostPort")
        if sc.get("procMount", "Default") != "Default":
            out.append(f"{c['name']}: procMount")
    for sc in [spec.get("securityContext") or {}] + [
        c.get("securityContext") or {} for c in containers
    ]:
        if (sc.get("seccompProfile") or {}).get("type") == "Unconfined":
            out.append("seccomp Unconfined")
        if set(sc.get("seLinuxOptions") or {}) & {"user", "role"}:
            out.append("seLinuxOptions user/role")
    sysctls = {s["name"] for s in (spec.get("securityContext") or {}).get("sysctls", [])}
    if sysctls - SAFE_SYSCTLS:
        out.append(f"unsafe sysctls {sysctls - SAFE_SYSCTLS}")
    return out


def restricted_violations(pod: dict) -> list[str]:
    spec, out = pod["spec"], baseline_violations(pod)
    pod_sc = spec.get("securityContext") or {}
    for v in spec.get("volumes", []):
        if not set(v) - {"name"} <= RESTRICTED_VOLUMES:
            out.append(f"volume {v['name']}: type not allowed")
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc, name = c.get("securityContext") or {}, c["name"]
        if sc.get("allowPrivilegeEscalation") is not False:
            out.append(f"{name}: allowPrivilegeEscalation != false")
        caps = sc.get("capabilities") or {}
        if "ALL" not in caps.get("drop", []) or set(caps.get("add", [])) - {"NET_BIND_SERVICE"}:
            out.append(f"{name}: capabilities not drop ALL")
        non_root = sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot"))
        if non_root is not True:
            out.append(f"{name}: runAsNonRoot != true")
        if sc.get("runAsUser", pod_sc.get("runAsUser")) == 0:
            out.append(f"{name}: runAsUser 0")
        seccomp = (sc.get("seccompProfile") or pod_sc.get("seccompProfile") or {}).get("type")
        if seccomp not in ("RuntimeDefault", "Localhost"):
            out.append(f"{name}: seccompProfile not RuntimeDefault/Localhost")
    return out


def pods(obj: dict) -> dict[str, dict]:
    """The pod of each replica type, as the operator creates it from the template."""
    return {
        rtype: {"metadata": spec["template"]["metadata"], "spec": spec["template"]["spec"]}
        for rtype, spec in obj["spec"]["pytorchReplicaSpecs"].items()
    }


def with_operator_init(pod: dict, template: str) -> dict:
    """The Worker pod as the operator makes it: its init container from the template."""
    text = template.replace("{{.InitContainerImage}}", "docker.io/library/alpine:3.10")
    text = text.replace("{{.MaxTries}}", "100").replace("{{.MasterAddr}}", "tq-7-master-0")
    assert "{{" not in text, "a template field this test does not fill in"
    pod = copy.deepcopy(pod)
    pod["spec"].setdefault("initContainers", []).extend(yaml.safe_load(text))
    return pod


# The operator's built-in template (v1.9, pkg/controller.v1/pytorch/initcontainer.go).
OPERATOR_DEFAULT_INIT = """
- name: init-pytorch
  image: {{.InitContainerImage}}
  imagePullPolicy: IfNotPresent
  command: ['sh', '-c', 'until nslookup {{.MasterAddr}}; do sleep 2; done # {{.MaxTries}}']
"""


@pytest.mark.parametrize("team", ["alpha", "local"])
def test_built_pods_meet_restricted(config, team):
    placement = config.team(team).pod_placement()
    obj = pytorchjob.build(record(team=team), f"team-{team}", "tq", placement)
    built = pods(obj)
    assert set(built) == {"Master", "Worker"}
    for rtype, pod in built.items():
        assert restricted_violations(pod) == [], rtype
    worker = with_operator_init(built["Worker"], INIT_TEMPLATE.read_text())
    assert restricted_violations(worker) == []


def test_the_operators_default_init_container_breaks_restricted(config):
    """Why the local stack (and a real cluster, docs/security.md) configures the template."""
    worker = pods(pytorchjob.build(record(), "team-alpha", "tq"))["Worker"]
    found = restricted_violations(with_operator_init(worker, OPERATOR_DEFAULT_INIT))
    assert found == [
        "init-pytorch: allowPrivilegeEscalation != false",
        "init-pytorch: capabilities not drop ALL",
    ]


def test_a_team_allowed_root_meets_baseline_only(config):
    team = config.team("alpha").model_copy(update={"allow_root": True})
    for pod in pods(pytorchjob.build(record(), "team-alpha", "tq", team.pod_placement())).values():
        assert baseline_violations(pod) == []
        assert restricted_violations(pod) == ["pytorch: runAsNonRoot != true"]


def test_the_checks_catch_what_restricted_refuses():
    pod = pods(pytorchjob.build(record(), "team-alpha", "tq"))["Master"]
    bad = copy.deepcopy(pod)
    bad["spec"]["hostNetwork"] = True
    bad["spec"]["containers"][0]["securityContext"]["privileged"] = True
    bad["spec"]["volumes"] = [{"name": "h", "hostPath": {"path": "/"}}]
    found = restricted_violations(bad)
    assert "hostNetwork" in found and "pytorch: privileged" in found
    assert "hostPath volume" in found and "volume h: type not allowed" in found
    assert any(re.search("seccomp", f) for f in restricted_violations(_without_seccomp(pod)))


def _without_seccomp(pod: dict) -> dict:
    pod = copy.deepcopy(pod)
    pod["spec"]["securityContext"].pop("seccompProfile")
    pod["spec"]["containers"][0]["securityContext"].pop("seccompProfile")
    return pod


class _Core:
    """read_namespace: not found; create_namespace: recorded."""

    def __init__(self):
        self.created = []

    def read_namespace(self, name, **_):
        raise ApiException(status=404, reason="Not Found")

    def create_namespace(self, body, **_):
        self.created.append(body)


def test_namespaces_trainq_creates_enforce_the_teams_level():
    """The local stack's team namespaces are created by the workers (the chart creates its
    own: helm/trainq/templates/teams.yaml): restricted, baseline for a team allowed root."""
    kube = Kube(str(REPO / "tests/unit/data/unreachable-kubeconfig.yaml"))
    kube.core = _Core()
    kube.root_namespaces = {"team-root"}
    kube.ensure_namespace("team-alpha")
    kube.ensure_namespace("team-root")
    levels = [
        b["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] for b in kube.core.created
    ]
    assert levels == ["restricted", "baseline"]
    assert all(b["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "trainq"
               for b in kube.core.created)  # fmt: skip
