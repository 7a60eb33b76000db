"""The chart with either backend (issue 20): a team's `backend` (pytorchjob | trainjob, else the
chart-wide one) and `trainjobRuntime` reach trainq's config, and the grants on TrainJobs (and the
API's pod list) are rendered only where a team runs TrainJobs. Needs the helm binary, no cluster.
"""

import json

import pytest
import yaml

from queue_workers.kube import backends
from tests.deploy import values_sets
from tests.deploy.test_config_assembly import assemble
from tests.deploy.test_rbac_grants import GRANTS, PJ, TJ, TRAINJOB_GRANTS, granted
from tests.deploy.tools import CHART, by_kind, documents, one, team
from wrapper.config import load_config

RELEASE_NS = "trainq"
COMPONENTS = ("workers", "watcher", "api")


def render(tools, values: dict) -> list[dict]:
    return documents(tools.template("tq", RELEASE_NS, values))


def rules_of(role: dict) -> set[tuple]:
    return {
        (g, r, v)
        for rule in role["rules"]
        for g in rule["apiGroups"]
        for r in rule["resources"]
        for v in rule["verbs"]
    }


def trainjob_rules(docs: list[dict]) -> list[tuple[str, str | None, str]]:
    """(kind, namespace, name) of every Role/ClusterRole with a rule on TrainJobs or pods list
    in a team namespace (what only TrainJobs need)."""
    out = []
    for d in by_kind(docs, "Role") + by_kind(docs, "ClusterRole"):
        rules = rules_of(d)
        tj = any((g, r) == TJ for g, r, _ in rules)
        pods = d["kind"] == "Role" and ("", "pods", "list") in rules
        if tj or pods:
            out.append((d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]))
    return out


def config_teams(docs: list[dict]) -> dict[str, dict]:
    config = yaml.safe_load(one(docs, "ConfigMap", "-config")["data"]["config.yaml"])
    return {t["name"]: t for t in config["teams"]}


def test_the_kinds_granted_are_the_code_s():
    """The chart's groups and resources are the ones dispatch and the watcher call, and a
    TrainJob gets each process exactly what a PyTorchJob gets."""
    assert (backends.PYTORCHJOB.group, backends.PYTORCHJOB.plural) == PJ
    assert (backends.TRAINJOB.group, backends.TRAINJOB.plural) == TJ
    assert TRAINJOB_GRANTS["workers"] == {
        (*TJ, v, "namespace") for v in ("create", "get", "patch", "delete")
    }
    assert TRAINJOB_GRANTS["watcher"] == {
        *((*TJ, v, "namespace") for v in ("get", "patch", "delete")),
        *((*TJ, v, "cluster") for v in ("list", "watch")),
    }


@pytest.mark.parametrize("values", [None, values_sets.two_teams()], ids=["default", "two-teams"])
def test_all_teams_on_pytorchjob_grant_nothing_on_trainjobs(offline_tools, values):
    docs = render(offline_tools, values)
    assert trainjob_rules(docs) == []
    assert "trainer.kubeflow.org" not in yaml.safe_dump_all(by_kind(docs, "Role"))
    assert "trainer.kubeflow.org" not in yaml.safe_dump_all(by_kind(docs, "ClusterRole"))
    assert granted(docs) == GRANTS
    for t in config_teams(docs).values():
        assert t["backend"] == "pytorchjob" and "trainjob_runtime" not in t, t["name"]


def test_one_team_on_trainjob_is_granted_trainjobs_in_its_namespace_only(offline_tools):
    values = values_sets.one_team_on_trainjob()
    alpha, beta = (t["namespace"] for t in values["teams"])
    docs = render(offline_tools, values)
    want = {c: GRANTS[c] | TRAINJOB_GRANTS.get(c, set()) for c in GRANTS}
    assert granted(docs) == want
    assert sorted(trainjob_rules(docs)) == sorted(
        [("Role", beta, f"tq-trainq-{c}") for c in COMPONENTS]
        + [("ClusterRole", None, f"{RELEASE_NS}-tq-trainq-watcher")]
    )
    for role in by_kind(docs, "Role"):
        namespace = role["metadata"]["namespace"]
        component = role["metadata"]["labels"]["app.kubernetes.io/component"]
        extra = {
            "workers": {(*TJ, v) for v in ("create", "get", "patch", "delete")},
            "watcher": {(*TJ, v) for v in ("get", "patch", "delete")},
            "api": {("", "pods", "list")},
        }.get(component, set())
        on_trainjob = rules_of(role) & (extra | {(*TJ, "list"), (*TJ, "watch")})
        assert on_trainjob == (extra if namespace == beta else set()), (namespace, component)
        assert namespace in (alpha, beta, RELEASE_NS)
    # Bound to the component's own service account, in the release namespace.
    for binding in by_kind(docs, "RoleBinding") + by_kind(docs, "ClusterRoleBinding"):
        component = binding["metadata"]["labels"]["app.kubernetes.io/component"]
        assert binding["roleRef"]["name"] == binding["metadata"]["name"]
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": f"tq-trainq-{component}", "namespace": RELEASE_NS}
        ]
    watcher = one(docs, "ClusterRole", "-watcher")
    assert {(*TJ, "list"), (*TJ, "watch")} <= rules_of(watcher)
    assert not [r for r in rules_of(one(docs, "ClusterRole", "-workers")) if r[:2] == TJ]
    teams = config_teams(docs)
    assert teams["alpha"]["backend"] == "pytorchjob" and "trainjob_runtime" not in teams["alpha"]
    assert (teams["beta"]["backend"], teams["beta"]["trainjob_runtime"]) == (
        "trainjob",
        "torch-beta",
    )


def test_chart_wide_backend_is_the_default_a_team_overrides(offline_tools):
    values = {
        "backend": "trainjob",
        "teams": [team("alpha", "tq-a", backend="pytorchjob"), team("beta", "tq-b")],
    }
    docs = render(offline_tools, values)
    teams = config_teams(docs)
    assert teams["alpha"]["backend"] == "pytorchjob"
    assert (teams["beta"]["backend"], teams["beta"]["trainjob_runtime"]) == (
        "trainjob",
        "torch-distributed",
    )
    assert {ns for _, ns, _ in trainjob_rules(docs)} == {"tq-b", None}
    values["trainjobRuntime"] = "site-torch"
    assert config_teams(render(offline_tools, values))["beta"]["trainjob_runtime"] == "site-torch"


def test_trainjob_config_loads_in_trainq(offline_tools, tmp_path):
    """The config the init container assembles loads with trainq's own loader, with the
    backends and the runtime the values asked for."""
    docs = render(offline_tools, values_sets.one_team_on_trainjob())
    proc, out = assemble(
        tmp_path, one(docs, "ConfigMap", "-config"), one(docs, "Secret", "trainq-tokens")
    )
    assert proc.returncode == 0, proc.stderr
    config = load_config(out)
    assert config.team("alpha").backend == "pytorchjob"
    assert (config.team("beta").backend, config.team("beta").trainjob_runtime) == (
        "trainjob",
        "torch-beta",
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"teams": [team("a", "tq-a", backend="foo")]},
            "at '/teams/0/backend': value must be one of 'pytorchjob', 'trainjob'",
        ),
        (
            {"backend": "TrainJob", "teams": [team("a", "tq-a")]},
            "at '/backend': value must be one of 'pytorchjob', 'trainjob'",
        ),
        (
            {"teams": [team("a", "tq-a", backend="trainjob", trainjobRuntime="Torch_1")]},
            "at '/teams/0/trainjobRuntime': 'Torch_1' does not match pattern",
        ),
    ],
    ids=["team-backend-foo", "chart-backend-case", "bad-runtime-name"],
)
def test_schema_rejects_other_backends(offline_tools, values, message):
    proc = offline_tools.helm(
        "template", "tq", CHART, "--values", "-", stdin=json.dumps(values), check=False
    )
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr
