"""Every RBAC rule of the chart and the kustomize base is a call some process makes, and every
call is granted. The calls come from the code, not from a list kept by hand: the Kubernetes
client methods each `Kube` method uses (queue_workers/kube/client.py, the only module that
imports `kubernetes`) and the `Kube` methods each process's modules call; for the API, the
client methods `wrapper/kubeclient.py` calls (its one read: a pod's log). GRANTS below is the
reviewed table; the tests check it against both. Needs the helm and kubectl binaries, no
cluster."""

import ast
import re

import yaml

from queue_workers.watcher.leader import lease_name
from tests.deploy import values_sets
from tests.deploy.tools import BASE, by_kind, documents
from tests.support import REPO

KUBE = REPO / "queue_workers/kube/client.py"
# The API's client (besides its readiness probe, GET /version, open to every authenticated
# identity: not in CLIENT_METHODS).
API_CLIENT = REPO / "wrapper/kubeclient.py"
# The modules each process runs (an API process never calls Kube).
PROCESS_MODULES = {
    "workers": [
        "queue_workers/__main__.py",
        "queue_workers/worker/*.py",
        "queue_workers/kube/nodes.py",
    ],
    "watcher": ["queue_workers/watcher/*.py"],
}
# kubernetes client method -> (API group, resource, verb, scope). "namespace": in a team
# namespace (a Role there); "release": in trainq's own namespace (a Role there); "cluster":
# across namespaces or cluster-scoped (a ClusterRole).
CLIENT_METHODS = {
    "read_namespace": ("", "namespaces", "get", "cluster"),
    "create_namespace": ("", "namespaces", "create", "cluster"),
    "create_namespaced_custom_object": ("kubeflow.org", "pytorchjobs", "create", "namespace"),
    "get_namespaced_custom_object": ("kubeflow.org", "pytorchjobs", "get", "namespace"),
    "patch_namespaced_custom_object": ("kubeflow.org", "pytorchjobs", "patch", "namespace"),
    "delete_namespaced_custom_object": ("kubeflow.org", "pytorchjobs", "delete", "namespace"),
    "list_cluster_custom_object": ("kubeflow.org", "pytorchjobs", "list", "cluster"),
    "list_node": ("", "nodes", "list", "cluster"),
    "list_pod_for_all_namespaces": ("", "pods", "list", "cluster"),
    "read_namespaced_pod_log": ("", "pods/log", "get", "namespace"),
    "patch_namespaced_pod": ("", "pods", "patch", "namespace"),  # placement gates
    # The API's logs endpoint finds a TrainJob's pod by label selector (JobSet's pod names are
    # not predictable).
    "list_namespaced_pod": ("", "pods", "list", "namespace"),
    "create_namespaced_network_policy": (
        "networking.k8s.io",
        "networkpolicies",
        "create",
        "namespace",
    ),
    # The watcher's leader-election Lease (queue_workers/watcher/leader.py).
    "read_namespaced_lease": ("coordination.k8s.io", "leases", "get", "release"),
    "create_namespaced_lease": ("coordination.k8s.io", "leases", "create", "release"),
    "replace_namespaced_lease": ("coordination.k8s.io", "leases", "update", "release"),
}
# Called, deliberately not granted: a missing team namespace is created only where trainq runs
# with a cluster admin's credentials (the local stack); the chart and the base create them.
NOT_GRANTED = {("", "namespaces", "create", "cluster")}

PJ = "kubeflow.org", "pytorchjobs"
GRANTS = {
    "api": {("", "pods/log", "get", "namespace")},  # the logs endpoint
    "workers": {
        (*PJ, "create", "namespace"),  # dispatch
        (*PJ, "get", "namespace"),  # adoption after AlreadyExists
        (*PJ, "patch", "namespace"),  # resume a re-queued job
        (*PJ, "delete", "namespace"),  # cancelled while being created
        ("", "namespaces", "get", "cluster"),  # Kube.ensure_namespace (team namespaces only)
        ("", "nodes", "list", "cluster"),  # refresh of a stale capacity cache
        ("", "pods", "list", "cluster"),
    },
    "watcher": {
        (*PJ, "get", "namespace"),  # confirm a PyTorchJob is gone
        (*PJ, "patch", "namespace"),  # the pods-ready guard suspends
        (*PJ, "delete", "namespace"),  # cancellations, leftovers
        ("networking.k8s.io", "networkpolicies", "create", "namespace"),  # a job's peers
        ("", "pods/log", "get", "namespace"),  # a finished job's logs, kept
        ("", "pods", "patch", "namespace"),  # a pinned replica's placement gate lifted
        (*PJ, "list", "cluster"),  # the mirror's list-watch across namespaces
        (*PJ, "watch", "cluster"),
        ("", "nodes", "list", "cluster"),  # node and pod cache
        ("", "nodes", "watch", "cluster"),
        ("", "pods", "list", "cluster"),
        ("", "pods", "watch", "cluster"),
        ("coordination.k8s.io", "leases", "get", "release"),  # leader election
        ("coordination.k8s.io", "leases", "create", "release"),
        ("coordination.k8s.io", "leases", "update", "release"),
    },
}

# Granted only in the namespaces of teams whose backend is trainjob (cluster-wide: only when
# some team is): on TrainJobs, for each process exactly what it has on PyTorchJobs (the
# `Kube` methods are the same, the custom-object calls name the job's kind:
# queue_workers/kube/backends.py); and the API's pod list (its logs endpoint).
TJ = "trainer.kubeflow.org", "trainjobs"
TRAINJOB_GRANTS = {
    "api": {("", "pods", "list", "namespace")},
    **{
        process: {(*TJ, verb, scope) for (*kind, verb, scope) in grants if tuple(kind) == PJ}
        for process, grants in GRANTS.items()
        if process != "api"
    },
}
# Calls made only for a TrainJob's pods, found by label selector (JobSet's pod names are not
# predictable), so not in GRANTS: the API's (its logs endpoint) is granted with
# TRAINJOB_GRANTS, the watcher's (keeping a finished job's logs) by its cluster-wide pod list.
POD_LIST = ("", "pods", "list", "namespace")
TRAINJOB_ONLY_CALLS = {"api": {POD_LIST}, "workers": set(), "watcher": {POD_LIST}}


def kube_methods() -> dict[str, set[tuple]]:
    """Kube method -> the API calls it makes, following calls between Kube's own methods. A
    `*_events` method opens a watch of what its list call lists."""
    tree = ast.parse(KUBE.read_text())
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Kube"]
    direct, calls = {}, {}
    for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
        attrs = {
            (n.value.attr, n.attr)
            for n in ast.walk(fn)
            if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Attribute)
            and isinstance(n.value.value, ast.Name) and n.value.value.id == "self"
        }  # fmt: skip
        apis = ("core", "custom", "networking", "coordination")
        unknown = {a for _, a in attrs if a not in CLIENT_METHODS and _ in apis}
        assert not unknown, f"Kube.{fn.name} calls {unknown}: add them to CLIENT_METHODS"
        watch = fn.name.endswith("_events")
        direct[fn.name] = {
            (
                *CLIENT_METHODS[a][:2],
                "watch" if watch else CLIENT_METHODS[a][2],
                CLIENT_METHODS[a][3],
            )
            for api, a in attrs
            if api in apis
        }
        calls[fn.name] = {
            n.attr
            for n in ast.walk(fn)
            if isinstance(n, ast.Attribute)
            and isinstance(n.value, ast.Name)
            and n.value.id == "self"
        }
    out = {}
    for name in direct:
        seen, todo, found = set(), [name], set()
        while todo:
            m = todo.pop()
            if m in seen or m not in direct:
                continue
            seen.add(m)
            found |= direct[m]
            todo += calls[m]
        out[name] = found
    return out


def api_calls() -> set[tuple]:
    """The calls the API process's client module makes (client methods it names)."""
    tree = ast.parse(API_CLIENT.read_text())
    names = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    return {CLIENT_METHODS[n] for n in names & set(CLIENT_METHODS)}


def process_calls(process: str) -> set[tuple]:
    """The API calls of every Kube method the process's modules name (`kube.X` or
    `self.kube.X`, called or passed on)."""
    if process == "api":
        return api_calls()
    methods = kube_methods()
    used = set()
    for pattern in PROCESS_MODULES[process]:
        for path in sorted(REPO.glob(pattern)):
            used |= set(re.findall(r"kube\.(\w+)", path.read_text())) & set(methods)
    assert used, f"no Kube call found for {process}"
    return set().union(*(methods[m] for m in used))


def release_namespace(docs: list[dict]) -> str:
    """trainq's own namespace: where its service accounts are."""
    (namespace,) = {sa["metadata"]["namespace"] for sa in by_kind(docs, "ServiceAccount")}
    return namespace


def granted(docs: list[dict]) -> dict[str, set[tuple]]:
    out: dict[str, set[tuple]] = {}
    home = release_namespace(docs)
    for kind in ("Role", "ClusterRole"):
        for role in by_kind(docs, kind):
            component = role["metadata"]["labels"]["app.kubernetes.io/component"]
            if kind == "ClusterRole":
                scope = "cluster"
            else:
                scope = "release" if role["metadata"]["namespace"] == home else "namespace"
            for rule in role["rules"]:
                out.setdefault(component, set()).update(
                    (g, r, v, scope)
                    for g in rule["apiGroups"]
                    for r in rule["resources"]
                    for v in rule["verbs"]
                )
    return out


def test_the_table_is_what_the_code_calls():
    for process, grants in GRANTS.items():
        calls = process_calls(process) - NOT_GRANTED - TRAINJOB_ONLY_CALLS[process]
        assert calls == grants, process


def test_trainjob_only_calls_are_made_and_granted():
    """The pod lists a TrainJob needs are the code's, and each is granted: with the TrainJob
    grants, or (the watcher's) by a cluster-wide grant of the same verb."""
    for process, calls in TRAINJOB_ONLY_CALLS.items():
        assert calls <= process_calls(process), process
        for group, resource, verb, _ in calls:
            assert TRAINJOB_GRANTS[process] & {(group, resource, verb, "namespace")} or (
                (group, resource, verb, "cluster") in GRANTS[process]
            ), (process, resource, verb)


def test_chart_grants_exactly_the_table(offline_tools):
    docs = documents(offline_tools.template("tq", "trainq", values_sets.two_teams()))
    assert granted(docs) == GRANTS
    # Per team namespace, one Role per process: the same grants in each; one in the release's.
    roles = by_kind(docs, "Role")
    namespaces = {r["metadata"]["namespace"] for r in roles} - {release_namespace(docs)}
    assert len(namespaces) == 2 and len(roles) == 7


def test_kustomize_base_grants_exactly_the_table(offline_tools):
    docs = documents(offline_tools.kubectl("kustomize", BASE).stdout)
    assert granted(docs) == GRANTS


def test_a_grant_no_code_uses_is_caught(offline_tools):
    """The check itself: an extra verb (the pods/log read workers once had) is reported."""
    docs = documents(offline_tools.template("tq", "trainq", values_sets.two_teams()))
    role = next(r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith("-workers"))
    role["rules"].append({"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]})
    extra = granted(docs)["workers"] - GRANTS["workers"]
    assert extra == {("", "pods/log", "get", "namespace")}


def lease_names(docs: list[dict]) -> list[str]:
    """The Lease names the watcher may get and update (create cannot be limited by name)."""
    (role,) = [r for r in by_kind(docs, "Role") if r["metadata"]["name"].endswith("-lease")]
    (rule,) = [r for r in role["rules"] if "update" in r["verbs"]]
    return rule["resourceNames"]


def test_lease_grant_names_the_watchers_lease(offline_tools):
    """Granted by name: the name must be the one the watcher uses for the instance."""
    values = {**values_sets.two_teams(), "instance": "prod"}
    docs = documents(offline_tools.template("tq", "trainq", values))
    assert lease_names(docs) == [lease_name("prod")]
    base = documents(offline_tools.kubectl("kustomize", BASE).stdout)
    instance = yaml.safe_load((BASE / "config.yaml").read_text())["instance"]
    assert lease_names(base) == [lease_name(instance)]
