"""Where the CLI finds its server, token and team (flag > env > config file), and the usage
errors (exit 2) when something is missing."""

import pytest

from tests.unit.cli.conftest import problem

QUEUE = {"team": "alpha", "weight": 1.0, "quota": {}, "usage": {}, "borrowed": {}, "share": 0,
         "queued": 0, "running": 0, "oldest_wait_seconds": None, "jobs": [],
         "next_cursor": None}  # fmt: skip


def test_flags_beat_env_beat_config_file(api, cli, tmp_path):
    api.on("GET", "/v1/teams/beta/queue", (200, {**QUEUE, "team": "beta"}))
    api.on("GET", "/v1/teams/alpha/queue", (200, QUEUE))
    conf = tmp_path / "config" / "trainq"
    conf.mkdir(parents=True)
    (conf / "config.toml").write_text(f'url = "{api.url}"\ntoken = "file-token"\nteam = "beta"\n')

    result = cli("queue", connect=False)
    assert result.exit_code == 0, result.output
    assert api.seen[-1].path == "/v1/teams/beta/queue"
    assert api.seen[-1].headers["Authorization"] == "Bearer file-token"

    result = cli("queue", connect=False, env={"TRAINQ_TEAM": "alpha", "TRAINQ_TOKEN": "env-tok"})
    assert result.exit_code == 0, result.output
    assert api.seen[-1].path == "/v1/teams/alpha/queue"
    assert api.seen[-1].headers["Authorization"] == "Bearer env-tok"

    # A flag after the command, and one before it.
    result = cli("--token", "flag-tok", "queue", "--team", "beta", connect=False,
                 env={"TRAINQ_TEAM": "alpha"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert api.seen[-1].path == "/v1/teams/beta/queue"
    assert api.seen[-1].headers["Authorization"] == "Bearer flag-tok"


def test_yaml_config_named_by_env(api, cli, tmp_path):
    api.on("GET", "/v1/teams/alpha/queue", (200, QUEUE))
    path = tmp_path / "mine.yaml"
    path.write_text(f"url: {api.url}\ntoken: yaml-token\nteam: alpha\n")
    result = cli("queue", connect=False, env={"TRAINQ_CLI_CONFIG": str(path)})
    assert result.exit_code == 0, result.output
    assert api.seen[-1].headers["Authorization"] == "Bearer yaml-token"


@pytest.mark.parametrize(
    ("text", "message"),
    [('colour = "red"\n', "unknown keys: colour"), ("url = [1\n", "not valid"),
     ("team = 3\n", "must be strings")],
)  # fmt: skip
def test_a_bad_config_file_is_a_usage_error(cli, tmp_path, text, message):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = cli("queue", connect=False, env={"TRAINQ_CLI_CONFIG": str(path)})
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_missing_token_and_team_are_usage_errors(api, cli):
    result = cli("--url", api.url, "queue", connect=False)
    assert result.exit_code == 2
    assert "no token" in result.stderr
    result = cli("--url", api.url, "--token", "t", "queue", connect=False)
    assert result.exit_code == 2
    assert "no team" in result.stderr
    assert api.seen == []


def test_unreachable_server_exits_3(cli, tmp_path):
    from tests.support import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = cli("--url", url, "--token", "t", "--team", "alpha", "status", "1", connect=False)
    assert result.exit_code == 3
    assert f"cannot reach trainq at {url}" in result.stderr
    assert "Traceback" not in result.output


def test_config_path_shows_settings_without_the_token(cli, tmp_path):
    result = cli("config-path", env={"TRAINQ_TOKEN": "secret-token"}, connect=False)
    assert result.exit_code == 0
    assert str(tmp_path / "config" / "trainq" / "config.toml") in result.stdout
    assert "secret-token" not in result.stdout
    assert "token: (set)" in result.stdout


def test_server_errors_exit_3(api, cli):
    api.on("GET", "/v1/teams/alpha/jobs/7", problem(503, "Service Unavailable",
                                                    "Redis is unavailable."))  # fmt: skip
    result = cli("status", "7")
    assert result.exit_code == 3
    assert "Service Unavailable (503): Redis is unavailable." in result.stderr
