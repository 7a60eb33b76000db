"""helm lint, helm template for the default values and three other value sets, what each
render contains, and that every render (and the kustomize base) passes server-side dry-run
validation against the local apiserver."""

import time

import pytest
import yaml

from tests.deploy import values_sets
from tests.deploy.test_config_assembly import generated_secrets
from tests.deploy.tools import BASE, CHART, by_kind, documents, one, unique

pytestmark = [pytest.mark.integration, pytest.mark.cluster]

SERVICEMONITOR_CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: servicemonitors.monitoring.coreos.com
  labels: {trainq.dev/test-fixture: minimal-servicemonitor-crd}
spec:
  group: monitoring.coreos.com
  names: {kind: ServiceMonitor, listKind: ServiceMonitorList, plural: servicemonitors,
          singular: servicemonitor}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              required: [selector, endpoints]
              properties:
                selector: {type: object, x-kubernetes-preserve-unknown-fields: true}
                endpoints:
                  type: array
                  items:
                    type: object
                    properties:
                      port: {type: string}
                      path: {type: string}
                      interval: {type: string}
                podTargetLabels: {type: array, items: {type: string}}
"""


def trainq_containers(docs):
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            spec = d["spec"]["template"]["spec"]
            for c in spec.get("initContainers", []) + spec["containers"]:
                yield d, spec, c


def dry_run(tools, text: str) -> str:
    """`kubectl apply --dry-run=server` of a render. The namespaces it uses must exist for a
    dry run to be accepted: missing ones are created for the call and removed after."""
    docs = documents(text)
    needed = {d["metadata"].get("namespace") for d in docs} | {
        d["metadata"]["name"] for d in by_kind(docs, "Namespace")
    }
    needed.discard(None)
    created = []
    try:
        for ns in sorted(needed):
            if tools.kubectl("get", "namespace", ns, check=False).returncode != 0:
                tools.kubectl("create", "namespace", ns)
                created.append(ns)
        return tools.kubectl("apply", "--dry-run=server", "-f", "-", stdin=text).stdout
    finally:
        tools.delete_namespaces(created)


@pytest.fixture(scope="module")
def servicemonitor_crd(tools):
    """A minimal ServiceMonitor CRD when the real one is not installed (removed after)."""
    name = "servicemonitors.monitoring.coreos.com"
    if tools.kubectl("get", "crd", name, check=False).returncode == 0:
        yield
        return
    tools.kubectl("apply", "-f", "-", stdin=SERVICEMONITOR_CRD)
    try:
        tools.kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")
        deadline = time.monotonic() + 30
        while tools.kubectl("get", "servicemonitors", "-A", check=False).returncode != 0:
            assert time.monotonic() < deadline, "ServiceMonitor API never became served"
            time.sleep(0.5)
        yield
    finally:
        tools.kubectl("delete", "crd", name, "--ignore-not-found", "--wait=false", check=False)


def test_helm_lint_is_clean(offline_tools):
    out = offline_tools.helm("lint", CHART, "--strict").stdout
    assert "0 chart(s) failed" in out
    assert "[WARNING]" not in out and "[ERROR]" not in out, out


def test_default_values_render_and_dry_run(tools):
    ns = unique()
    text = tools.template("tq", ns)
    docs = documents(text)
    # Every trainq container: non-root, read-only root, no escalation, no capabilities.
    for d, spec, c in trainq_containers(docs):
        assert spec["securityContext"]["runAsNonRoot"] is True, d["metadata"]["name"]
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"], c["name"]
        assert c["resources"]["requests"] and c["resources"]["limits"], c["name"]
    api = one(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # Two watchers: one leads (a Lease), one stands by; a rolling update is safe.
    watcher = one(docs, "Deployment", "-watcher")["spec"]
    assert watcher["replicas"] == 2 and "strategy" not in watcher
    redis = one(docs, "StatefulSet", "-redis")["spec"]
    args = redis["template"]["spec"]["containers"][0]["command"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert args[args.index("--appendfsync") + 1] == "everysec"
    assert args[args.index("--hash-max-listpack-value") + 1] == "1024"
    assert redis["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"]
    assert {
        p["metadata"]["name"].rsplit("-", 1)[1] for p in by_kind(docs, "PodDisruptionBudget")
    } == {"api", "workers"}
    # The Redis NetworkPolicy admits trainq's own components only.
    policy = one(docs, "NetworkPolicy", "-redis")["spec"]
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "no namespaceSelector / ipBlock: same namespace only"
    assert peer["podSelector"]["matchExpressions"][0]["values"] == ["api", "workers", "watcher"]
    # Default team: a generated token, of which only the digest reaches the pods.
    assert one(docs, "Secret", "-initial-tokens")["stringData"]["alpha"]
    assert_redis_requires_a_password(docs)
    assert_metrics_on_their_own_port(docs)
    assert_team_namespaces_locked_down(docs)
    # team-alpha is shared with other tests: validate a copy with the team namespace renamed,
    # so this test never creates or deletes it.
    renamed = rename_namespaces(docs, {"team-alpha": f"{ns}-a"})
    assert "dry run" in dry_run(tools, yaml.safe_dump_all(renamed))


def assert_redis_requires_a_password(docs):
    """Redis reads requirepass from the chart's Secret; every process connects with the URL
    holding it, from the same Secret; the password is in no command line."""
    secret = one(docs, "Secret", "-redis")["stringData"]
    password = secret["password"]
    assert len(password) >= 32 and secret["redis.conf"] == f"requirepass {password}\n"
    assert secret["url"] == f"redis://:{password}@tq-trainq-redis:6379/0"
    redis = one(docs, "StatefulSet", "-redis")["spec"]["template"]["spec"]
    (container,) = redis["containers"]
    assert container["command"][1] == "/etc/trainq-redis/redis.conf"
    assert password not in yaml.safe_dump(container)
    (auth,) = [v for v in redis["volumes"] if v["name"] == "auth"]
    assert auth["secret"]["secretName"] == "tq-trainq-redis"
    for d in by_kind(docs, "Deployment"):
        (env,) = [e for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
                  if e["name"] == "REDIS_URL"]  # fmt: skip
        assert env["valueFrom"]["secretKeyRef"] == {"name": "tq-trainq-redis", "key": "url"}


def assert_metrics_on_their_own_port(docs):
    api = one(docs, "Deployment", "-api")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in api["env"]}
    assert env["TRAINQ_METRICS_PORT"] == "9090" and env["TRAINQ_API_PORT"] == "8080"
    assert {p["name"]: p["containerPort"] for p in api["ports"]} == {"http": 8080, "metrics": 9090}
    public = one(docs, "Service", "-api")["spec"]["ports"]
    assert [p["targetPort"] for p in public] == ["http"]
    metrics = one(docs, "Service", "-metrics")["spec"]["ports"]
    assert [p["targetPort"] for p in metrics] == ["metrics"]


def assert_team_namespaces_locked_down(docs):
    (ns,) = [d for d in by_kind(docs, "Namespace")]
    labels = ns["metadata"]["labels"]
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    assert labels["pod-security.kubernetes.io/enforce-version"] == "latest"
    (policy,) = [p for p in by_kind(docs, "NetworkPolicy")
                 if p["metadata"]["namespace"] == ns["metadata"]["name"]]  # fmt: skip
    spec = policy["spec"]
    assert spec["policyTypes"] == ["Egress"] and "ingress" not in spec
    assert spec["podSelector"]["matchLabels"] == {"app.kubernetes.io/managed-by": "trainq"}
    (dns,) = spec["egress"]  # no other pod, not even another job's of the team (see peers)
    assert {p["port"] for p in dns["ports"]} == {53}
    assert dns["to"][0]["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}


def test_external_redis(tools):
    ns = unique()
    values = values_sets.external_redis()
    text = tools.template("tq", ns, values)
    docs = documents(text)
    assert not by_kind(docs, "StatefulSet")
    assert not [
        p for p in by_kind(docs, "NetworkPolicy") if p["metadata"]["name"].endswith("-redis")
    ]
    assert one(docs, "Secret", "-redis")["stringData"]["url"] == values["redis"]["external"]["url"]
    for d in by_kind(docs, "Deployment"):
        (env,) = [
            e
            for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
            if e["name"] == "REDIS_URL"
        ]
        assert env["valueFrom"]["secretKeyRef"] == {"name": "tq-trainq-redis", "key": "url"}
    assert "dry run" in dry_run(tools, text)


def test_sentinel_redis(tools):
    """redis.sentinel.enabled: three Redis pods with a sentinel each, reachable by trainq's
    pods and by each other on both ports; every trainq process is told the sentinels, the
    service name and the WAIT it must see before acknowledging a submission."""
    ns = unique()
    text = tools.template("tq", ns, values_sets.sentinel_redis())
    docs = documents(text)
    (redis_set,) = by_kind(docs, "StatefulSet")
    assert redis_set["spec"]["replicas"] == 3
    pod = redis_set["spec"]["template"]["spec"]
    assert [c["name"] for c in pod["containers"]] == ["redis", "sentinel"]
    assert "sentinel monitor trainq $primary 6379 2" in pod["containers"][1]["command"][2]
    assert "--replicaof" in pod["containers"][0]["command"][2]
    assert "masterauth" in one(docs, "Secret", "-redis")["stringData"]["redis.conf"]
    sentinels = [f"tq-trainq-redis-{i}.tq-trainq-redis-headless.{ns}.svc:26379" for i in range(3)]
    for d in by_kind(docs, "Deployment"):
        env = {
            e["name"]: e.get("value") for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
        }
        assert env["REDIS_SENTINELS"] == ",".join(sentinels)
        assert (env["REDIS_SENTINEL_MASTER"], env["REDIS_MIN_REPLICAS_ACKED"]) == ("trainq", "1")
    policy = one(docs, "NetworkPolicy", "-redis")
    assert [{p["port"] for p in rule["ports"]} for rule in policy["spec"]["ingress"]] == [
        {6379, 26379},
        {6379, 26379},
    ]
    assert "dry run" in dry_run(tools, text)


def test_two_teams_with_quotas(tools):
    ns = unique()
    values = values_sets.two_teams()
    a, b = (t["namespace"] for t in values["teams"])
    text = tools.template("tq", ns, values)
    docs = documents(text)
    quotas = {q["metadata"]["namespace"]: q["spec"]["hard"] for q in by_kind(docs, "ResourceQuota")}
    assert quotas == {
        a: {"requests.cpu": "48", "requests.memory": "384Gi", "requests.nvidia.com/gpu": "12"},
        # quota + borrowing limit: 8 + 500m cpu, 64Gi + 512Mi, 0 + 4 gpu
        b: {
            "requests.cpu": "8500m",
            "requests.memory": str((64 * 1024 + 512) * 2**20),
            "requests.nvidia.com/gpu": "4",
        },
    }
    limits = {lr["metadata"]["namespace"] for lr in by_kind(docs, "LimitRange")}
    assert limits == {a, b}
    assert {(r["metadata"]["namespace"], r["metadata"]["name"]) for r in by_kind(docs, "Role")} == {
        (n, f"tq-trainq-{c}") for n in (a, b) for c in ("workers", "watcher", "api")
    } | {(ns, "tq-trainq-watcher-lease")}  # the watchers' leader election, at home
    workers_cr = one(docs, "ClusterRole", "-workers")
    assert workers_cr["rules"][0]["resourceNames"] == [a, b]
    config = yaml.safe_load(one(docs, "ConfigMap", "-config")["data"]["config.yaml"])
    assert [(t["name"], t["namespace"], t["weight"]) for t in config["teams"]] == [
        ("alpha", a, 2),
        ("beta", b, 1),
    ]
    assert config["teams"][1]["borrowing_limit"] == {"cpu": "500m", "memory": "512Mi", "gpu": 4}
    assert config["teams"][1]["node_selector"] == {"pool": "beta"}
    assert config["teams"][1]["tolerations"] == values["teams"][1]["tolerations"]
    assert "node_selector" not in config["teams"][0]
    tokens = one(docs, "Secret", "trainq-tokens")["stringData"]
    assert tokens == {
        "team.alpha": values_sets.ALPHA_SHA,
        "team.beta": values_sets.BETA_SHA,
        "admin": values_sets.ADMIN_SHA,
    }
    assert not [
        s for s in by_kind(docs, "Secret") if s["metadata"]["name"].endswith("initial-tokens")
    ]
    assert "dry run" in dry_run(tools, text)


def test_ingress_and_servicemonitor(tools, servicemonitor_crd):
    ns = unique()
    text = tools.template("tq", ns, values_sets.ingress_and_monitoring())
    docs = documents(text)
    ingress = one(docs, "Ingress", "")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "tq-trainq-api", "port": {"name": "http"}}
    assert ingress["spec"]["ingressClassName"] == "nginx"
    # The ingress routes to the API Service, which has no metrics port; Prometheus scrapes
    # the metrics Services of the API, the workers and the watchers (and only them: the API
    # Service's labels do not match), each targeting its pods' metrics port.
    assert [p["name"] for p in one(docs, "Service", "-api")["spec"]["ports"]] == ["http"]
    monitor = one(docs, "ServiceMonitor", "-metrics")
    service = one(docs, "Service", "-metrics")
    selector = monitor["spec"]["selector"]["matchLabels"].items()
    scraped = {
        s["spec"]["selector"]["app.kubernetes.io/component"]
        for s in by_kind(docs, "Service")
        if selector <= s["metadata"]["labels"].items()
    }
    assert scraped == {"api", "workers", "watcher"}
    for component in ("api", "workers", "watcher"):
        deployment = one(docs, "Deployment", f"-{component}")["spec"]["template"]["spec"]
        (container,) = deployment["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["TRAINQ_METRICS_PORT"] == "9090", component
        assert {"name": "metrics", "containerPort": 9090, "protocol": "TCP"} in container["ports"]
        # Only the API's gunicorn sums processes; the others serve their own values.
        assert ("PROMETHEUS_MULTIPROC_DIR" in env) == (component == "api"), component
    assert not selector <= one(docs, "Service", "-api")["metadata"]["labels"].items()
    assert monitor["spec"]["podTargetLabels"] == ["app.kubernetes.io/component"]
    # The Grafana dashboard, for Grafana's sidecar, is the file the tests check the queries of.
    dashboard = one(docs, "ConfigMap", "-dashboard")
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert dashboard["data"]["trainq.json"] == (CHART / "dashboards/trainq.json").read_text()
    assert monitor["spec"]["endpoints"][0] == {
        "port": "metrics",
        "path": "/metrics",
        "interval": "30s",
    }
    assert service["spec"]["ports"][0]["name"] == "metrics"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    for d in docs:
        assert d["metadata"]["labels"]["cost-center"] == "ml", d["metadata"]["name"]
        assert d["metadata"]["annotations"]["owner"] == "platform", d["metadata"]["name"]
    out = dry_run(tools, text)
    assert "servicemonitor.monitoring.coreos.com/tq-trainq-metrics created (server dry run)" in out


def rename_namespaces(docs: list[dict], mapping: dict[str, str]) -> list[dict]:
    """The base with its namespaces renamed (a private copy of it for this test run)."""
    for d in docs:
        meta = d["metadata"]
        if d["kind"] == "Namespace":
            meta["name"] = mapping.get(meta["name"], meta["name"])
        if "namespace" in meta:
            meta["namespace"] = mapping.get(meta["namespace"], meta["namespace"])
        for s in d.get("subjects", []):
            s["namespace"] = mapping.get(s["namespace"], s["namespace"])
        for r in d.get("rules", []):
            if "resourceNames" in r:
                r["resourceNames"] = [mapping.get(n, n) for n in r["resourceNames"]]
    return docs


def test_kustomize_base_dry_run(tools, tmp_path):
    """The base and the two Secrets its documented command generates (the base has none)."""
    docs = documents(tools.kubectl("kustomize", BASE).stdout)
    docs += list(generated_secrets(tmp_path)[0].values())
    kinds = {d["kind"] for d in docs}
    assert {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ClusterRole",
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
    assert len(by_kind(docs, "ServiceAccount")) == 4
    ns = unique()
    mapping = {"trainq": ns, "team-alpha": f"{ns}-a", "team-beta": f"{ns}-b"}
    text = yaml.safe_dump_all(rename_namespaces(docs, mapping))
    out = dry_run(tools, text)
    assert "deployment.apps/trainq-api created (server dry run)" in out
    assert "statefulset.apps/trainq-redis created (server dry run)" in out
