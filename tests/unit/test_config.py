import copy
import hashlib
import os
import subprocess
import sys

import pytest
import yaml

from tests.unit.conftest import LOCAL_CONFIG, REPO
from wrapper.config import ConfigError, load_config


def _raw() -> dict:
    return yaml.safe_load(LOCAL_CONFIG.read_text())


def _write(tmp_path, raw) -> str:
    path = tmp_path / "trainq.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_local_config_has_the_documented_teams_and_tokens(config):
    assert [(t.name, t.namespace) for t in config.teams] == [
        ("alpha", "team-alpha"),
        ("beta", "team-beta"),
        ("local", "team-local"),
    ]
    digest = {
        name: hashlib.sha256(f"{name}-dev-token".encode()).hexdigest()
        for name in ("alpha", "beta", "local", "admin")
    }
    assert config.team("alpha").token_sha256 == [digest["alpha"]]
    assert config.team("beta").token_sha256 == [digest["beta"]]
    assert config.team("local").token_sha256 == [digest["local"]]
    assert config.admin_token_sha256 == [digest["admin"]]
    assert config.images.allowed_prefixes == ["docker.io/", "ghcr.io/trainq/"]


@pytest.mark.parametrize(
    ("mutate", "named"),
    [
        (lambda r: r["teams"][0].update(namespace="Team_Alpha"), "teams[0].namespace"),
        (lambda r: r["teams"][1].update(name="beta!"), "teams[1].name"),
        (lambda r: r["teams"][0].update(token_sha256=["not-a-hash"]), "teams[0].token_sha256[0]"),
        (lambda r: r["teams"][0]["quota"].update(cpu="lots"), "teams[0].quota.cpu"),
        (lambda r: r["teams"][0].update(weight=0), "teams[0].weight"),
        (lambda r: r["teams"][0].pop("quota"), "teams[0].quota"),
        (lambda r: r.update(colour="blue"), "colour"),
        (lambda r: r["defaults"].update(restart_policy="Always"), "defaults.restart_policy"),
        (lambda r: r["dispatch"].update(cancel_propagation="X"), "dispatch.cancel_propagation"),
        (lambda r: r.update(instance="Has_Caps"), "instance"),
        (lambda r: r["images"].update(allowed_prefixes=[]), "images.allowed_prefixes"),
        (
            lambda r: r["teams"][2].update(node_selector={"bad key!": "x"}),
            "teams[2].node_selector.bad key!.[key]",
        ),
        (
            lambda r: r["teams"][2].update(node_selector={"trainq.dev/pool": "-bad"}),
            "teams[2].node_selector.trainq.dev/pool",
        ),
        (lambda r: r["teams"][2].update(node_selector=["pool"]), "teams[2].node_selector"),
        (
            lambda r: r["teams"][2]["tolerations"][0].update(effect="Sometimes"),
            "teams[2].tolerations[0].effect",
        ),
        (
            lambda r: r["teams"][2]["tolerations"][0].update(operator="In"),
            "teams[2].tolerations[0].operator",
        ),
        (
            lambda r: r["teams"][2]["tolerations"][0].update(operator="Exists"),
            "teams[2].tolerations[0]",
        ),
        (lambda r: r["teams"][2]["tolerations"][0].pop("key"), "teams[2].tolerations[0]"),
        (
            lambda r: r["teams"][2]["tolerations"][0].update(seconds=5),
            "teams[2].tolerations[0].seconds",
        ),
        (lambda r: r["teams"][2].update(tolerations={"key": "a"}), "teams[2].tolerations"),
    ],
)
def test_bad_config_names_the_bad_key(tmp_path, mutate, named):
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(ConfigError) as exc:
        load_config(_write(tmp_path, raw))
    assert f"\n  {named}:" in str(exc.value)


def test_cross_field_rules(tmp_path):
    raw = _raw()
    raw["teams"][1]["namespace"] = "team-alpha"
    with pytest.raises(ConfigError, match="namespaces must be unique"):
        load_config(_write(tmp_path, raw))
    raw = _raw()
    raw["defaults"]["workers"] = 99
    with pytest.raises(ConfigError, match=r"defaults\.workers exceeds limits\.max_workers"):
        load_config(_write(tmp_path, raw))
    raw = _raw()
    raw["admin_token_sha256"] = raw["teams"][0]["token_sha256"]
    with pytest.raises(ConfigError, match="one team or admin only"):
        load_config(_write(tmp_path, raw))


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("teams: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)


@pytest.mark.parametrize(
    "command",
    [
        [sys.executable, "-m", "queue_workers", "--burst"],
        [sys.executable, "-m", "queue_workers.watcher"],
        [sys.executable, "-c", "import wrapper.wsgi"],
    ],
    ids=["worker", "watcher", "api"],
)
def test_a_bad_config_stops_each_process_naming_the_key(tmp_path, command):
    raw = _raw()
    raw["teams"][0]["quota"]["max_running_jobs"] = -1
    env = {
        **os.environ,
        "TRAINQ_CONFIG": _write(tmp_path, raw),
        "REDIS_URL": "redis://127.0.0.1:9/0",
    }
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "teams[0].quota.max_running_jobs" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_team_placement_pins_the_local_team_to_the_local_node(config):
    assert config.team("local").pod_placement() == {
        "nodeSelector": {"trainq.dev/pool": "local"},
        "tolerations": [
            {"key": "trainq.dev/local-node", "operator": "Equal", "value": "true",
             "effect": "NoSchedule"}
        ],
    }  # fmt: skip
    # Teams without a pool run wherever the scheduler puts them.
    assert config.team("alpha").pod_placement() == {}


def test_tolerations_follow_the_apiserver_rules(tmp_path):
    raw = _raw()
    raw["teams"][2]["tolerations"] = [
        {"operator": "Exists"},  # tolerates every taint
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        {"key": "gpu"},  # operator defaults to Equal, value to empty
    ]
    team = load_config(_write(tmp_path, raw)).team("local")
    assert team.pod_placement()["tolerations"] == [
        {"operator": "Exists"},
        {"key": "dedicated", "operator": "Exists", "effect": "NoExecute"},
        {"key": "gpu", "operator": "Equal"},
    ]


def test_pods_ready_guard_settings_default_and_must_be_positive(tmp_path):
    raw = copy.deepcopy(_raw())
    raw.pop("admission", None)
    a = load_config(_write(tmp_path, raw)).admission
    got = (a.pods_ready_timeout_seconds, a.pods_ready_backoff_seconds,
           a.pods_ready_backoff_max_seconds, a.pods_ready_requeues)  # fmt: skip
    assert got == (300, 30, 600, 3)
    bad_values = {"pods_ready_timeout_seconds": 0, "pods_ready_backoff_seconds": -1,
                  "pods_ready_backoff_max_seconds": 0, "pods_ready_requeues": -1}  # fmt: skip
    for key, bad in bad_values.items():
        raw["admission"] = {key: bad}
        with pytest.raises(ConfigError) as exc:
            load_config(_write(tmp_path, raw))
        assert f"\n  admission.{key}:" in str(exc.value)
    raw["admission"] = {"pods_ready_timeout_seconds": 3, "pods_ready_requeues": 0}
    a = load_config(_write(tmp_path, raw)).admission
    assert (a.pods_ready_timeout_seconds, a.pods_ready_requeues) == (3, 0)


def test_root_is_an_explicit_per_team_opt_out(tmp_path, config):
    assert not any(t.allow_root for t in config.teams)
    raw = _raw()
    raw["teams"][0]["allow_root"] = True
    loaded = load_config(_write(tmp_path, raw))
    assert loaded.team("alpha").pod_placement() == {"securityContext": {"runAsNonRoot": False}}
    assert "securityContext" not in loaded.team("beta").pod_placement()


def test_pod_metadata_prefixes(tmp_path, config):
    assert config.pod_metadata.label_prefixes == []
    assert config.pod_metadata.annotation_prefixes == ["trainq.dev/sim-"]
    raw = _raw()
    del raw["pod_metadata"]
    defaults = load_config(_write(tmp_path, raw)).pod_metadata
    assert (defaults.label_prefixes, defaults.annotation_prefixes) == ([], [])
    raw["pod_metadata"] = {"annotation_prefixes": ["example.com"]}
    with pytest.raises(ConfigError, match=r"pod_metadata\.annotation_prefixes\[0\]"):
        load_config(_write(tmp_path, raw))


def test_redis_sentinel_settings_from_env(monkeypatch):
    from wrapper.config import settings_from_env

    monkeypatch.setenv("TRAINQ_CONFIG", str(LOCAL_CONFIG))
    for name in ("REDIS_SENTINELS", "REDIS_SENTINEL_MASTER", "REDIS_MIN_REPLICAS_ACKED",
                 "REDIS_ACK_TIMEOUT_MS"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    plain = settings_from_env()
    assert (plain.redis_sentinels, plain.redis_replicas_acked) == ((), 0)  # nothing changes
    monkeypatch.setenv("REDIS_SENTINELS", "s0:26379, s1:26379,")
    monkeypatch.setenv("REDIS_SENTINEL_MASTER", "tq")
    monkeypatch.setenv("REDIS_MIN_REPLICAS_ACKED", "1")
    ha = settings_from_env()
    assert ha.redis_target[1:] == (("s0:26379", "s1:26379"), "tq")
    assert (ha.redis_replicas_acked, ha.redis_ack_timeout_ms) == (1, 1000)
    monkeypatch.setenv("REDIS_ACK_TIMEOUT_MS", "0")
    with pytest.raises(ConfigError, match="REDIS_ACK_TIMEOUT_MS"):
        settings_from_env()
