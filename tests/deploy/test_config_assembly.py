"""The config trainq's pods start with: the chart's (and the kustomize base's) ConfigMap plus
token Secret, merged by the `config` init container's script, must load with trainq's own
loader; the team namespaces' quotas must match the teams' trainq quotas; the Deployments run
the Dockerfile's commands. Needs helm and kubectl binaries, no cluster."""

import base64
import hashlib
import json
import re
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


def generated_secrets(tmp_path) -> tuple[dict[str, dict], dict[str, str]]:
    """The base's two Secrets as its documented command makes them, and the plain tokens."""
    tokens_file = tmp_path / "tokens.txt"
    proc = subprocess.run(
        [sys.executable, BASE / "generate-secrets.py", tokens_file, "alpha", "beta"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    items = json.loads(proc.stdout)["items"]
    tokens = dict(line.split(" ", 1) for line in tokens_file.read_text().splitlines())
    return {s["metadata"]["name"]: s for s in items}, tokens


def test_kustomize_base_ships_no_credentials(offline_tools):
    """`kubectl apply -k k8s/base` must not hand out known tokens (admin included): the base
    has no Secret and no token digest; the pods need the two generated ones."""
    docs = documents(offline_tools.kubectl("kustomize", BASE).stdout)
    assert by_kind(docs, "Secret") == []
    known = {values_sets.ALPHA_SHA, values_sets.BETA_SHA, values_sets.ADMIN_SHA}
    for path in [*BASE.iterdir(), *CHART.rglob("*")]:
        if path.is_file():
            text = path.read_text()
            assert not known & set(re.findall(r"[0-9a-f]{64}", text)), path
    wanted = {
        v["secret"]["secretName"]
        for d in by_kind(docs, "Deployment") + by_kind(docs, "StatefulSet")
        for v in d["spec"]["template"]["spec"].get("volumes", [])
        if "secret" in v
    }
    assert wanted == {"trainq-tokens", "trainq-redis"}


def test_generated_secrets_hold_digests_and_the_redis_password(tmp_path):
    secrets_, tokens = generated_secrets(tmp_path)
    digests = secrets_["trainq-tokens"]["stringData"]
    assert set(digests) == set(tokens) == {"team.alpha", "team.beta", "admin"}
    for key, token in tokens.items():
        assert len(token) >= 40 and digests[key] == hashlib.sha256(token.encode()).hexdigest()
    assert oct((tmp_path / "tokens.txt").stat().st_mode & 0o777) == "0o600"
    redis = secrets_["trainq-redis"]["stringData"]
    assert len(redis["password"]) == 64
    assert redis["url"] == f"redis://:{redis['password']}@trainq-redis:6379/0"
    assert redis["redis.conf"] == f"requirepass {redis['password']}\n"
    (tmp_path / "second").mkdir()
    again, _ = generated_secrets(tmp_path / "second")
    assert again["trainq-redis"]["stringData"]["password"] != redis["password"]


def test_generate_secrets_never_overwrites_handed_out_tokens(tmp_path):
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("team.alpha handed-out\n")
    proc = subprocess.run(
        [sys.executable, BASE / "generate-secrets.py", tokens_file, "alpha"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert proc.returncode == 1 and "exists" in proc.stderr and not proc.stdout
    assert tokens_file.read_text() == "team.alpha handed-out\n"


def test_kustomize_base_config_loads_in_trainq(offline_tools, tmp_path):
    docs = documents(offline_tools.kubectl("kustomize", BASE).stdout)
    (tmp_path / "gen").mkdir()
    secrets_, _ = generated_secrets(tmp_path / "gen")
    proc, out = assemble(tmp_path, one(docs, "ConfigMap", ""), secrets_["trainq-tokens"])
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
        (tmp_path / "gen").mkdir()
        secret = generated_secrets(tmp_path / "gen")[0]["trainq-tokens"]
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
    wrapper/config/ must be added to the chart's schema."""
    schema = json.loads((CHART / "values.schema.json").read_text())
    sections = set(schema["properties"]["config"]["properties"])
    built = {"instance", "teams", "admin_token_sha256"}
    assert sections == set(TrainqConfig.model_fields) - built
