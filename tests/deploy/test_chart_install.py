"""helm install into the local control plane: every rendered object exists, the service
accounts can do exactly what their role needs (kubectl auth can-i), generated tokens survive
an upgrade, helm uninstall removes everything, and bad values fail with the schema's message."""

import base64
import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.deploy import values_sets
from tests.deploy.tools import CHART, by_kind, documents, team, unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

PYTORCHJOBS = "pytorchjobs.kubeflow.org"
TRAINJOBS = "trainjobs.trainer.kubeflow.org"
LEASES = "leases.coordination.k8s.io"
POD_READS = [("get", "pods"), ("get", "pods/log")]  # logs are read with get
# The fake nodes are shared with scheduling tests: our pods are created but stay Pending.
NOWHERE = {
    c: {"nodeSelector": {"trainq.dev/deploytest": "nowhere"}}
    for c in ("api", "workers", "watcher", "redis")
}


def restricted_namespace(name: str) -> dict:
    labels = {
        "pod-security.kubernetes.io/enforce": "restricted",
        "pod-security.kubernetes.io/enforce-version": "latest",
    }
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


@pytest.fixture(scope="module")
def release(tools):
    """An installed release in its own namespace, serving two teams in their own namespaces
    (alpha with a configured digest and PyTorchJobs, beta with a generated token and Trainer
    v2 TrainJobs). Removed at the end."""
    name, ns = "tq", unique()
    values = values_sets.one_team_on_trainjob()
    del values["teams"][1]["tokenSha256"]  # beta: the chart generates its token
    values.update(NOWHERE)
    teams = [t["namespace"] for t in values["teams"]]
    try:
        # The release namespace enforces the "restricted" Pod Security Standard: a pod of
        # the chart that breaks it is refused (test_every_workload_creates_its_pods).
        tools.kubectl("apply", "-f", "-", stdin=json.dumps(restricted_namespace(ns)))
        out = tools.helm(
            "install",
            name,
            CHART,
            "--namespace",
            ns,
            "--values",
            "-",
            "--timeout",
            "90s",
            stdin=json.dumps(values),
            timeout=150,
        ).stdout
        manifest = tools.helm("get", "manifest", name, "--namespace", ns).stdout
        yield {
            "name": name,
            "ns": ns,
            "teams": teams,
            "values": values,
            "notes": out,
            "manifest": manifest,
            "docs": documents(manifest),
        }
    finally:
        tools.helm(
            "uninstall",
            name,
            "--namespace",
            ns,
            "--ignore-not-found",
            "--wait",
            "--timeout",
            "60s",
            check=False,
            timeout=90,
        )
        tools.delete_namespaces([ns, *teams])


def live_objects(tools, manifest: str) -> list[dict]:
    proc = tools.kubectl("get", "-f", "-", "-o", "json", stdin=manifest, check=False)
    assert proc.returncode == 0, f"rendered objects missing from the cluster:\n{proc.stderr}"
    data = json.loads(proc.stdout)
    return data["items"] if data.get("kind") == "List" else [data]


def test_every_rendered_object_exists(tools, release):
    rendered = release["docs"]
    live = live_objects(tools, release["manifest"])
    key = lambda d: (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])  # noqa: E731
    assert sorted(map(key, live)) == sorted(map(key, rendered))
    live_by_key = {key(d): d for d in live}
    for d in rendered:
        got = live_by_key[key(d)]
        assert d["metadata"].get("labels", {}).items() <= got["metadata"]["labels"].items()
        if d["kind"] in ("Deployment", "StatefulSet"):
            assert got["spec"]["replicas"] == d["spec"]["replicas"]
            want = [c["command"] for c in d["spec"]["template"]["spec"]["containers"]]
            assert [c["command"] for c in got["spec"]["template"]["spec"]["containers"]] == want
    kinds = {d["kind"] for d in rendered}
    assert {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
        "ClusterRoleBinding",
        "Deployment",
        "Service",
        "ConfigMap",
        "Secret",
        "StatefulSet",
        "PodDisruptionBudget",
        "NetworkPolicy",
        "ResourceQuota",
        "LimitRange",
    } <= kinds
    # The team namespaces are the chart's, with the quota the values asked for.
    hard = tools.kubectl("get", "resourcequota", "-n", release["teams"][0], "-o", "json").stdout
    (quota,) = json.loads(hard)["items"]
    assert quota["spec"]["hard"]["requests.cpu"] == "48"


def test_every_workload_creates_its_pods(tools, release):
    """The pod templates pass admission in the release namespace (security context,
    service accounts, volumes): each workload's controller creates all its pods."""
    want = {"api": 2, "workers": 2, "watcher": 2, "redis": 1}
    deadline = time.monotonic() + 30
    while True:
        out = tools.kubectl("get", "pods", "-n", release["ns"], "-o", "json").stdout
        got = {}
        for pod in json.loads(out)["items"]:
            component = pod["metadata"]["labels"]["app.kubernetes.io/component"]
            got[component] = got.get(component, 0) + 1
        if got == want or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert got == want


def test_notes_say_how_to_reach_the_api_and_submit(release):
    notes = release["notes"]
    assert f"port-forward svc/{release['name']}-trainq-api" in notes
    assert "/v1/teams/alpha/jobs" in notes
    assert "Authorization: Bearer $TOKEN" in notes
    assert "Kubeflow PyTorchJobs (teams on backend pytorchjob)" in notes
    assert "Trainer v2 TrainJobs (teams on backend trainjob)" in notes


def test_generated_token_matches_digest_and_survives_upgrade(tools, release):
    ns, name = release["ns"], release["name"]

    def secret(suffix):
        out = tools.kubectl("get", "secret", f"{name}-trainq-{suffix}", "-n", ns, "-o", "json")
        return {k: base64.b64decode(v).decode() for k, v in json.loads(out.stdout)["data"].items()}

    token = secret("initial-tokens")["beta"]
    assert len(token) == 40
    assert secret("tokens")["team.beta"] == hashlib.sha256(token.encode()).hexdigest()
    assert secret("tokens")["team.alpha"] == values_sets.ALPHA_SHA
    tools.helm(
        "upgrade",
        name,
        CHART,
        "--namespace",
        ns,
        "--values",
        "-",
        "--timeout",
        "90s",
        stdin=json.dumps(release["values"]),
        timeout=150,
    )
    assert secret("initial-tokens")["beta"] == token, "upgrade must not rotate the token"


def test_least_privilege(tools, release):
    ns, name = release["ns"], release["name"]
    a, b = release["teams"]
    other = "default"  # a namespace outside the team list
    sa = {role: f"{ns}:{name}-trainq-{role}" for role in ("api", "workers", "watcher")}
    allowed, denied = [], []
    for team_ns in (a, b):
        allowed += [
            ("workers", v, PYTORCHJOBS, team_ns) for v in ("create", "get", "delete", "patch")
        ]
        # No more than the code calls (test_rbac_grants.py); pods list: the cluster-wide one.
        denied += [("workers", v, PYTORCHJOBS, team_ns) for v in ("list", "watch")]
        denied += [("workers", v, r, team_ns) for v, r in POD_READS]
        allowed += [
            ("watcher", v, PYTORCHJOBS, team_ns)
            for v in ("get", "list", "watch", "delete", "patch")
        ]
        allowed += [("workers", "get", f"namespaces/{team_ns}", None)]
        denied += [("watcher", v, PYTORCHJOBS, team_ns) for v in ("create", "update")]
        denied += [("api", v, PYTORCHJOBS, team_ns) for v in ("get", "list", "create")]
        denied += [("api", "get", "pods", team_ns)]
        # TrainJobs: beta's backend only; alpha's namespace grants nothing on them. The logs
        # endpoint finds a TrainJob's pod by label selector.
        writes = ("create", "get", "delete", "patch")
        trainjob = [("workers", v, TRAINJOBS, team_ns) for v in writes]
        trainjob += [("watcher", v, TRAINJOBS, team_ns) for v in ("get", "delete", "patch")]
        trainjob += [("api", "list", "pods", team_ns)]
        (allowed if team_ns == b else denied).extend(trainjob)
        denied += [("workers", v, TRAINJOBS, team_ns) for v in ("list", "watch", "update")]
        denied += [("watcher", v, TRAINJOBS, team_ns) for v in ("create", "update")]
        denied += [("api", v, TRAINJOBS, team_ns) for v in ("get", "list", "create")]
        # Logs: the API's logs endpoint, the watcher keeping a finished job's.
        allowed += [("api", "get", "pods/log", team_ns), ("watcher", "get", "pods/log", team_ns)]
        denied += [
            ("workers", "update", PYTORCHJOBS, team_ns),
            ("workers", "deletecollection", PYTORCHJOBS, team_ns),
        ]
    # Cluster-wide: nodes for admission; the watcher's all-namespace list/watch.
    allowed += [("workers", "list", "nodes", None)]
    allowed += [("watcher", v, PYTORCHJOBS, None) for v in ("list", "watch")]
    allowed += [("watcher", v, TRAINJOBS, None) for v in ("list", "watch")]
    denied += [("workers", v, TRAINJOBS, None) for v in ("list", "watch")]
    denied += [("workers", v, "nodes", None) for v in ("get", "watch", "patch", "delete")]
    allowed += [("watcher", v, "nodes", None) for v in ("list", "watch")]
    denied += [("watcher", v, "nodes", None) for v in ("get", "patch", "delete")]
    denied += [("api", "list", "nodes", None)]
    # Cluster-wide, every namespace: the bound pods' requests (the watcher follows them, a
    # worker lists them to refresh a stale cache); reading a pod by name is not needed.
    for where in (ns, a, b, other):
        allowed += [("watcher", v, "pods", where) for v in ("list", "watch")]
        allowed += [("workers", "list", "pods", where)]
        denied += [("watcher", v, "pods", where) for v in ("get", "delete")]
        # (a pinned replica's placement gate is lifted: in the team namespaces only)
        (allowed if where in (a, b) else denied).append(("watcher", "patch", "pods", where))
        denied += [("api", "watch", "pods", where)]
        if where != b:
            denied += [("api", "list", "pods", where)]
    denied += [("workers", "watch", "pods", where) for where in (ns, other)]
    # Never: Secrets (anywhere), creating pods, namespaces beyond reading the team ones.
    for role in sa:
        for where in (ns, a, b, other):
            denied += [(role, v, "secrets", where) for v in ("get", "list", "watch")]
            denied += [(role, "create", "pods", where), (role, "create", "pods/exec", where)]
            denied += [(role, "create", "deployments.apps", where)]
        denied += [(role, v, "namespaces", None) for v in ("create", "list", "delete", "patch")]
        denied += [
            (role, "get", f"namespaces/{other}", None),
            (role, "get", f"namespaces/{ns}", None),
        ]
        denied += [(role, v, "roles.rbac.authorization.k8s.io", a) for v in ("create", "bind")]
        if role != "watcher":
            denied += [(role, v, LEASES, ns) for v in ("create", "get", "update")]
    # Outside the team namespaces: no writes, no pod read by name, no logs.
    for role in sa:
        denied += [(role, v, PYTORCHJOBS, other) for v in ("create", "delete", "patch")]
        denied += [(role, v, TRAINJOBS, other) for v in ("create", "delete", "patch")]
        denied += [(role, "get", r, other) for r in ("pods", "pods/log")]
    denied += [("workers", v, PYTORCHJOBS, other) for v in ("get", "list")]
    # The watchers' leader election: their own Lease in the release namespace, nothing more.
    lease = f"{LEASES}/trainq-watcher-{release['values'].get('instance', 'tq')}"
    allowed += [("watcher", v, lease, ns) for v in ("get", "update")]
    allowed += [("watcher", "create", LEASES, ns)]
    denied += [("watcher", v, f"{LEASES}/another", ns) for v in ("get", "update")]
    denied += [("watcher", v, LEASES, ns) for v in ("list", "watch", "delete", "patch")]
    denied += [("watcher", v, lease, where) for v in ("get", "update") for where in (a, other)]

    cases = [(True, *c) for c in allowed] + [(False, *c) for c in denied]

    def check(case) -> str | None:
        expected, role, verb, resource, where = case
        if tools.can_i(sa[role], verb, resource, where) is expected:
            return None
        return f"{role} {'cannot' if expected else 'CAN'} {verb} {resource} in {where}"

    with ThreadPoolExecutor(max_workers=12) as pool:
        wrong = [w for w in pool.map(check, cases) if w]
    assert not wrong, "\n".join(wrong)


def test_api_needs_only_discovery_and_team_logs(tools, release):
    """/readyz calls GET /version: allowed to every authenticated identity; the logs endpoint
    reads pods/log in the team namespaces: one RoleBinding there each, nothing else."""
    sa = f"{release['ns']}:{release['name']}-trainq-api"
    assert tools.can_i(sa, "get", "/version")
    bindings = json.loads(
        tools.kubectl("get", "rolebindings,clusterrolebindings", "-A", "-o", "json").stdout
    )["items"]
    bound = [
        (b["kind"], b["metadata"].get("namespace"))
        for b in bindings
        for s in b.get("subjects") or []
        if s.get("kind") == "ServiceAccount"
        and s.get("namespace") == release["ns"]
        and s.get("name", "").endswith("-api")
    ]
    assert sorted(bound) == [("RoleBinding", n) for n in sorted(release["teams"])]


def test_rendered_rbac_never_mentions_secrets_or_wildcards(release):
    for d in by_kind(release["docs"], "Role") + by_kind(release["docs"], "ClusterRole"):
        for rule in d["rules"]:
            assert "secrets" not in rule["resources"], d["metadata"]["name"]
            assert "*" not in rule["verbs"] + rule["resources"] + rule["apiGroups"], rule


def test_uninstall_removes_everything(tools):
    """A release of its own (the shared one above is still in use by the other tests)."""
    name, ns = "tq", unique()
    values = {"teams": [team("solo", f"{ns}-a")], **NOWHERE}
    try:
        tools.helm(
            "install",
            name,
            CHART,
            "--namespace",
            ns,
            "--create-namespace",
            "--values",
            "-",
            stdin=json.dumps(values),
            timeout=150,
        )
        manifest = tools.helm("get", "manifest", name, "--namespace", ns).stdout
        docs = documents(manifest)
        assert len(live_objects(tools, manifest)) == len(docs)
        tools.helm("uninstall", name, "--namespace", ns, "--wait", "--timeout", "60s", timeout=90)
        deadline = time.monotonic() + 60
        while True:
            proc = tools.kubectl(
                "get", "-f", "-", "-o", "json", "--ignore-not-found", stdin=manifest, check=False
            )
            left = json.loads(proc.stdout)["items"] if proc.stdout.strip() else []
            # A team namespace may still be finishing its deletion (Terminating): that is gone.
            left = [d for d in left if not d["metadata"].get("deletionTimestamp")]
            if not left:
                break
            assert time.monotonic() < deadline, [(d["kind"], d["metadata"]["name"]) for d in left]
            time.sleep(1)
        assert tools.helm("status", name, "--namespace", ns, check=False).returncode != 0
    finally:
        tools.helm("uninstall", name, "--namespace", ns, "--ignore-not-found", check=False)
        tools.delete_namespaces([ns, f"{ns}-a"])


@pytest.mark.parametrize(
    ("teams", "message"),
    [
        (
            [
                {
                    "name": "nons",
                    "quota": {"maxRunningJobs": 1, "cpu": "1", "memory": "1Gi", "gpu": 0},
                }
            ],
            "at '/teams/0': missing property 'namespace'",
        ),
        (
            [
                team(
                    "neg",
                    "NS",
                    quota={"maxRunningJobs": 1, "cpu": "-4", "memory": "1Gi", "gpu": -1},
                )
            ],
            "at '/teams/0/quota/gpu': minimum: got -1, want 0",
        ),
        (
            [team("neg", "x", quota={"maxRunningJobs": -3, "cpu": "4", "memory": "1Gi", "gpu": 0})],
            "at '/teams/0/quota/maxRunningJobs': minimum: got -3, want 0",
        ),
        (
            [team("neg", "x", quota={"maxRunningJobs": 1, "cpu": "-4", "memory": "1Gi", "gpu": 0})],
            "at '/teams/0/quota/cpu': '-4' does not match pattern",
        ),
        (
            [team("dup", "same"), team("dup2", "same")],
            'teams[1]: namespace "same" is used by two teams',
        ),
    ],
    ids=["team-without-namespace", "negative-gpu", "negative-jobs", "negative-cpu", "dup-ns"],
)
def test_bad_values_fail_install_with_message(tools, teams, message):
    ns = unique()
    try:
        proc = tools.helm(
            "install",
            "tq",
            CHART,
            "--namespace",
            ns,
            "--create-namespace",
            "--values",
            "-",
            stdin=json.dumps({"teams": teams}),
            check=False,
        )
        assert proc.returncode != 0
        assert message in proc.stderr, proc.stderr
        assert tools.helm("status", "tq", "--namespace", ns, check=False).returncode != 0
    finally:
        tools.helm("uninstall", "tq", "--namespace", ns, "--ignore-not-found", check=False)
        tools.delete_namespaces([ns])


def sa_kubeconfig(tools, tmp_path, namespace: str, sa: str) -> str:
    """A kubeconfig that authenticates as the service account (a short-lived token)."""
    token = tools.kubectl("create", "token", sa, "-n", namespace, "--duration=10m").stdout
    raw = json.loads(tools.kubectl("config", "view", "--raw", "--minify", "-o", "json").stdout)
    (cluster,) = raw["clusters"]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": sa, "user": {"token": token.strip()}}],
        "contexts": [{"name": sa, "context": {"cluster": cluster["name"], "user": sa}}],
        "current-context": sa,
    }
    path = tmp_path / f"{sa}.kubeconfig"
    path.write_text(json.dumps(config))
    return str(path)


def test_trainq_kube_calls_work_with_exactly_these_grants(tools, release, tmp_path):
    """trainq's own Kubernetes client code (queue_workers.kube.client), run as each service account:
    what dispatch and the watcher call succeeds, and the same calls elsewhere are refused."""
    from kubernetes.client.rest import ApiException

    from queue_workers.kube import pytorchjob
    from queue_workers.kube.client import BOUND_PODS, Kube
    from queue_workers.watcher.leader import claimed, lease_name, micro_time

    ns, name = release["ns"], release["name"]
    a = release["teams"][0]
    workers = Kube(sa_kubeconfig(tools, tmp_path, ns, f"{name}-trainq-workers"))
    watcher = Kube(sa_kubeconfig(tools, tmp_path, ns, f"{name}-trainq-watcher"))
    api = Kube(sa_kubeconfig(tools, tmp_path, ns, f"{name}-trainq-api"))
    instance = unique("dt").replace("-", "")[:20]
    record = {
        "id": 1,
        "team": "alpha",
        "name": "rbac-probe",
        "uid": "0123456789abcdef",
        "spec": {
            "image": "docker.io/library/busybox:1.36",
            "command": ["true"],
            "env": {},
            "workers": 1,
            "resources": {"cpu": "100m", "memory": "64Mi", "gpu": 0},
            "max_runtime_seconds": 60,
            "backoff_limit": 0,
            "restart_policy": "Never",
            "labels": {},
        },
    }
    # Pods of this PyTorchJob stay Pending: the shared fake nodes are left alone.
    body = pytorchjob.build(record, a, instance, NOWHERE["api"])
    job = body["metadata"]["name"]

    def refused(call, *args):
        with pytest.raises(ApiException) as info:
            call(*args)
        return info.value.status == 403

    workers.ensure_namespace(a)  # dispatch reads the team namespace
    try:
        workers.create(a, body)
        assert workers.get(a, job)["metadata"]["name"] == job
        items, _ = watcher.list_all(pytorchjob.selector(instance))
        assert [o["metadata"]["name"] for o in items] == [job]
        assert watcher.get(a, job) is not None
        # The pods-ready guard suspends a PyTorchJob; dispatch resumes it.
        assert watcher.set_suspended(a, job, True) is True
        assert workers.set_suspended(a, job, False) is True
        assert refused(api.set_suspended, a, job, True)
        assert refused(watcher.create, a, body)
        assert refused(api.get, a, job)
        assert refused(api.list_all, pytorchjob.selector(instance))
        other = dict(body, metadata={**body["metadata"], "namespace": "default"})
        assert refused(workers.create, "default", other)
        assert refused(workers.core.read_namespace, "default")
        assert refused(workers.core.create_namespace, {"metadata": {"name": unique()}})
        assert refused(workers.core.list_namespaced_secret, ns)
        # Admission's capacity: workers refresh it by listing nodes and bound pods, the
        # watcher list-watches both.
        assert workers.list_nodes()[0] and watcher.list_nodes()[0]
        assert refused(api.list_nodes)
        _, version = workers.list_pods()
        assert watcher.list_pods()[1]
        # The watch the watcher opens (Kube.pod_events), for a second: authorized.
        watcher.core.list_pod_for_all_namespaces(
            field_selector=BOUND_PODS, watch=True, timeout_seconds=1, _preload_content=False
        ).release_conn()
        assert refused(api.list_pods)
        assert refused(lambda: next(workers.pod_events(version, threading.Event())))
        assert watcher.delete(a, job, "Background") is True
        # Leader election: the watchers' own Lease at home, by name; no other, nobody else.
        own = lease_name(release["values"].get("instance", "tq"))
        written = watcher.write_lease(ns, claimed(None, own, "probe", 8, micro_time()), 5)
        assert watcher.read_lease(ns, own, 5)["spec"]["holderIdentity"] == "probe"
        watcher.write_lease(ns, claimed(written, own, "probe", 8, micro_time()), 5)  # renewal
        assert refused(watcher.read_lease, ns, lease_name("another"), 5)
        assert refused(workers.read_lease, ns, own, 5)
    finally:
        tools.kubectl("delete", PYTORCHJOBS, job, "-n", a, "--ignore-not-found", check=False)
