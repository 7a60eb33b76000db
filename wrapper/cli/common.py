"""The options every command takes to find its server (`--url`, `--token`, `--team`), given
before the command (`trainq --team beta queue`) or after it (`trainq queue --team beta`), and
`connect`, which turns them into a `Client`."""

from typing import Annotated

import typer

from wrapper.cli.client import Client
from wrapper.cli.settings import resolve

UrlOpt = Annotated[
    str | None, typer.Option("--url", help="API base URL (env TRAINQ_URL)", show_default=False)
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="Bearer token (env TRAINQ_TOKEN)", show_default=False)
]
TeamOpt = Annotated[
    str | None, typer.Option("--team", "-t", help="Team (env TRAINQ_TEAM)", show_default=False)
]
JobId = Annotated[int, typer.Argument(help="The job id", min=1, show_default=False)]


def connect(ctx: typer.Context, url: str | None, token: str | None, team: str | None) -> Client:
    """A client from the command's options, else those given before the command."""
    given = ctx.find_root().obj or {}
    return Client(
        resolve(url or given.get("url"), token or given.get("token"), team or given.get("team"))
    )
