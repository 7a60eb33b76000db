"""Where the CLI finds its server, token and team: a flag wins, then the environment
(`TRAINQ_URL`, `TRAINQ_TOKEN`, `TRAINQ_TEAM`), then the config file
(`<user config dir>/trainq/config.toml` or `config.yaml`, or the file `TRAINQ_CLI_CONFIG`
names), then the default URL of the local stack."""

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import typer
import yaml

from wrapper.cli.errors import CliError, Exit

DEFAULT_URL = "http://127.0.0.1:8080"
ENV = {"url": "TRAINQ_URL", "token": "TRAINQ_TOKEN", "team": "TRAINQ_TEAM"}
CONFIG_ENV = "TRAINQ_CLI_CONFIG"  # TRAINQ_CONFIG is the server's configuration
CONFIG_NAMES = ("config.toml", "config.yaml", "config.yml")


class SettingsError(CliError):
    """A setting is missing or the config file cannot be read (a usage error)."""

    def __init__(self, message: str):
        super().__init__(message, Exit.USAGE)


@dataclass(frozen=True)
class Settings:
    url: str
    token: str | None
    team: str | None
    source: str | None = None  # the config file read, if any

    def need_team(self) -> str:
        if not self.team:
            raise SettingsError(
                'no team: give --team, set TRAINQ_TEAM, or put `team = "..."` in '
                f"{config_path() or default_config_dir() / CONFIG_NAMES[0]}"
            )
        return self.team


def default_config_dir() -> Path:
    return Path(typer.get_app_dir("trainq"))


def config_path() -> Path | None:
    """The config file to read: TRAINQ_CLI_CONFIG, else the first that exists in the user's
    config directory; None when there is none."""
    named = os.environ.get(CONFIG_ENV)
    if named:
        return Path(named)
    for name in CONFIG_NAMES:
        path = default_config_dir() / name
        if path.is_file():
            return path
    return None


def read_config(path: Path) -> dict:
    try:
        text = path.read_text()
    except OSError as exc:
        raise SettingsError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise SettingsError(f"the config file {path} is not valid: {exc}") from None
    data = data or {}
    if not isinstance(data, dict):
        raise SettingsError(f"the config file {path} must hold keys url, token, team")
    unknown = sorted(set(data) - set(ENV))
    if unknown:
        raise SettingsError(
            f"the config file {path} has unknown keys: {', '.join(unknown)} "
            "(known: url, token, team)"
        )
    bad = [k for k, v in data.items() if v is not None and not isinstance(v, str)]
    if bad:
        raise SettingsError(f"the config file {path}: {', '.join(bad)} must be strings")
    return data


def resolve(url: str | None = None, token: str | None = None, team: str | None = None) -> Settings:
    flags = {"url": url, "token": token, "team": team}
    path = config_path()
    file = read_config(path) if path is not None else {}
    chosen = {}
    for key, env in ENV.items():
        value = flags[key] or os.environ.get(env) or file.get(key)
        chosen[key] = value.strip() if isinstance(value, str) and value.strip() else None
    return Settings(
        url=(chosen["url"] or DEFAULT_URL).rstrip("/"),
        token=chosen["token"],
        team=chosen["team"],
        source=str(path) if path is not None else None,
    )
