"""The `trainq` command: its global options and its commands (docs/cli.md). Installed as a
console script (`pyproject.toml`: `trainq = "wrapper.cli.app:app"`)."""

from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer

from wrapper.cli import algorithms, jobs, logs, queue, runs, status
from wrapper.cli.common import TeamOpt, TokenOpt, UrlOpt
from wrapper.cli.errors import handled
from wrapper.cli.settings import CONFIG_NAMES, config_path, default_config_dir, resolve

HELP = (
    "Submit and follow training jobs on trainq (docs/cli.md).\n\n"
    "The server, token and team come from --url, --token, --team (before or after the "
    "command), else TRAINQ_URL, TRAINQ_TOKEN, TRAINQ_TEAM, else the config file (see "
    "`trainq config-path`).\n\n"
    "Exit codes: 0 ok; 1 the API refused (4xx); 2 usage; 3 server error or unreachable; "
    "4 the watched job failed or was cancelled; 5 --watch timed out."
)

app = typer.Typer(
    name="trainq",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trainq {version('trainq') if _installed() else '(not installed)'}")
        raise typer.Exit()


def _installed() -> bool:
    try:
        version("trainq")
    except PackageNotFoundError:
        return False
    return True


@app.callback()
def main(
    ctx: typer.Context,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
    show_version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version")
    ] = False,
):
    ctx.obj = {"url": url, "token": token, "team": team}


app.command("submit")(jobs.submit)
app.command("status")(status.status)
app.command("logs")(logs.logs)
app.command("cancel")(jobs.cancel)
app.command("suspend")(jobs.suspend)
app.command("resume")(jobs.resume)
app.command("queue")(queue.queue)
app.command("runs")(runs.runs)
app.command("algorithms")(algorithms.algorithms)


@app.command("config-path")
def show_config(ctx: typer.Context):
    """Print the config file the CLI reads (or would read), and the settings in effect."""
    with handled():
        given = ctx.find_root().obj or {}
        settings = resolve(given.get("url"), given.get("token"), given.get("team"))
        path = config_path() or default_config_dir() / CONFIG_NAMES[0]
        state = "read" if settings.source else "absent"
        typer.echo(f"config file: {path} ({state})")
        typer.echo(f"url: {settings.url}")
        typer.echo(f"team: {settings.team or '(none)'}")
        typer.echo(f"token: {'(set)' if settings.token else '(none)'}")
