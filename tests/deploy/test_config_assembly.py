"""The config trainq's pods start with: the chart's (and the kustomize base's) ConfigMap plus
token Secret, merged by the `config` init container's script, must load with trainq's own
loader; the team namespaces' quotas must match the teams' trainq quotas; the Deployments run
the Dockerfile's commands. Needs helm and kubectl binaries, no cluster."""

import base64
import json
import subprocess
import sys

import pytest

from tests.deploy import values_sets
from tests.deploy.test_image import commands
from tests.deploy.tools import BASE, CHART, by_kind, documents, one
from wrapper.config import TrainqConfig, load_config
from wrapper.validation.k8s_names import quantity

SCRIPT = "assemble-config.py"


def assemble(tmp_path, configmap: dict, secret: dict):
    """Run the init container's command on the rendered ConfigMap and Secret."""
    source, tokens = tmp_path / "config", tmp_path / "tokens"
    source.mkdir()
    tokens.mkdir()
    for key, value in configmap["data"].items():
        (source / key).write_text(value)
    data = secret.get("stringData") or {
        k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()
    }
    for key, value in data.items():
        (tokens / key).write_text(value)
    out = tmp_path / "config.yaml"
    proc = subprocess.run(
        [sys.executable, source / SCRIPT, source / "config.yaml", tokens, out],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PYTHONPATH": str(CHART.parents[1]), "PATH": "/usr/bin:/bin"},
    )
    return proc, out


def test_script_copies_are_identical():
    assert (BASE / SCRIPT).read_text() == (CHART / "files" / SCRIPT).read_text()


def test_chart_config_loads_in_trainq(offline_tools, tmp_path):
    values = values_sets.two_teams()
    docs = documents(offline_tools.template("tq", "trainq", values))
    proc, out = assemble(
        tmp_path, one(docs, "ConfigMap", "-config"), one(docs, "Secret", "trainq-tokens")
    )
    assert proc.returncode == 0, proc.stderr
    config = load_config(out)
    assert [(t.name, t.namespace) for t in config.teams] == [
        (t["name"], t["namespace"]) for t in values["teams"]
    ]
    assert config.team("alpha").token_sha256 == [values_sets.ALPHA_SHA]
    assert config.team("beta").borrowing_limit.gpu == 4
    assert config.team("beta").pod_placement() == {
        "nodeSelector": {"pool": "beta"},
        "tolerations": values["teams"][1]["tolerations"],
    }
    assert config.admin_token_sha256 == [values_sets.ADMIN_SHA]


def test_default_chart_config_loads_with_generated_token(offline_tools, tmp_path):
    docs = documents(offline_tools.template("tq", "trainq"))
    proc, out = assemble(
        tmp_path, one(docs, "ConfigMap", "-config"), one(docs, "Secret", "trainq-tokens")
    )
    assert proc.returncode == 0, proc.stderr
    assert len(load_config(out).team("alpha").token_sha256) == 1


def test_missing_tokens_stop_the_pod_naming_the_key(offline_tools, tmp_path):
    docs = documents(offline_tools.template("tq", "trainq", values_sets.two_teams()))
    secret = one(docs, "Secret", "trainq-tokens")
    del secret["stringData"]["team.beta"]
    proc, _ = assemble(tmp_path, one(docs, "ConfigMap", "-config"), secret)
    assert proc.returncode == 2
    assert "teams[1].token_sha256" in proc.stderr, proc.stderr


def test_kustomize_base_config_loads_in_trainq(offline_tools, tmp_path):
    docs = documents(offline_tools.kubectl("kustomize", BASE).stdout)
    proc, out = assemble(tmp_path, one(docs, "ConfigMap", ""), by_kind(docs, "Secret")[0])
    assert proc.returncode == 0, proc.stderr
    config = load_config(out)
    assert {t.namespace for t in config.teams} == {"team-alpha", "team-beta"}


def expected_hard(team) -> dict:
    """quota + borrowing limit, as numbers."""
    borrow = team.borrowing_limit
    return {
        "requests.cpu": quantity(team.quota.cpu) + quantity((borrow and borrow.cpu) or "0"),
        "requests.memory": quantity(team.quota.memory)
        + quantity((borrow and borrow.memory) or "0"),
        "requests.nvidia.com/gpu": team.quota.gpu + ((borrow and borrow.gpu) or 0),
    }


def hard_of(docs, namespace) -> dict:
    (rq,) = [q for q in by_kind(docs, "ResourceQuota") if q["metadata"]["namespace"] == namespace]
    return {k: quantity(str(v)) for k, v in rq["spec"]["hard"].items()}


@pytest.mark.parametrize("source", ["chart", "base"])
def test_resource_quotas_match_team_quotas(offline_tools, tmp_path, source):
    if source == "chart":
        docs = documents(offline_tools.template("tq", "trainq", values_sets.two_teams()))
        secret = one(docs, "Secret", "trainq-tokens")
    else:
        docs = documents(offline_tools.kubectl("kustomize", BASE).stdout)
        secret = by_kind(docs, "Secret")[0]
    proc, out = assemble(tmp_path, by_kind(docs, "ConfigMap")[0], secret)
    assert proc.returncode == 0, proc.stderr
    config = load_config(out)
    for team in config.teams:
        assert hard_of(docs, team.namespace) == expected_hard(team), team.name
    for limit_range in by_kind(docs, "LimitRange"):
        (limits,) = limit_range["spec"]["limits"]
        assert quantity(str(limits["max"]["cpu"])) == quantity(config.limits.max_cpu)
        assert quantity(str(limits["max"]["memory"])) == quantity(config.limits.max_memory)


@pytest.mark.parametrize("source", ["chart", "base"])
def test_deployments_run_the_dockerfile_commands(offline_tools, source):
    if source == "chart":
        docs = documents(offline_tools.template("tq", "trainq"))
    else:
        docs = documents(offline_tools.kubectl("kustomize", BASE).stdout)
    cmds = commands()
    want = {"api": cmds["api"], "workers": cmds["worker"], "watcher": cmds["watcher"]}
    got = {}
    for d in by_kind(docs, "Deployment"):
        component = d["metadata"]["labels"]["app.kubernetes.io/component"]
        (container,) = d["spec"]["template"]["spec"]["containers"]
        got[component] = container["command"]
        (init,) = d["spec"]["template"]["spec"]["initContainers"]
        assert init["command"][1].endswith(SCRIPT)
    assert got == want


def test_chart_config_section_covers_trainq_config():
    """values.config accepts exactly the sections of trainq's configuration file that are not
    built from other values (instance, teams, token digests): a new section in
    wrapper/config.py must be added to the chart's schema."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    sections = set(schema["properties"]["config"]["properties"])
    built = {"instance", "teams", "admin_token_sha256"}
    assert sections == set(TrainqConfig.model_fields) - built
