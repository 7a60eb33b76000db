"""`trainq algorithms [NAME]`: the registered algorithms, their current version and image
(GET /v1/algorithms); with a name, its every published version (GET /v1/algorithms/{name})."""

from typing import Annotated

import typer
from rich.table import Table

from wrapper.cli import render
from wrapper.cli.common import TeamOpt, TokenOpt, UrlOpt, connect
from wrapper.cli.errors import handled
from wrapper.cli.render import Output, OutputOpt, dash


def algorithms(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="One algorithm, with its history", show_default=False)
    ] = None,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """List the algorithms a job may name (submit --algorithm NAME)."""
    with handled():
        client = connect(ctx, url, token, team)
        if name:
            answer = client.get(f"/v1/algorithms/{name}")
            if output is Output.json:
                return render.print_json(answer)
            return _one(answer)
        answer = client.get("/v1/algorithms")
        if output is Output.json:
            return render.print_json(answer)
        table = Table(header_style="bold")
        for column in ("name", "version", "image", "command", "updated", "description"):
            table.add_column(column, overflow="fold")
        for algo in answer.get("items") or []:
            table.add_row(
                dash(algo.get("name")),
                dash(algo.get("version")),
                dash(algo.get("image_ref")),
                dash(" ".join(algo.get("command") or [])),
                f"{dash(algo.get('updated_at'))} by {dash(algo.get('updated_by'))}",
                dash(algo.get("description")),
            )
        if not answer.get("items"):
            table.caption = "no algorithms registered"
        render.console.print(table)


def _one(algo: dict) -> None:
    render.console.print(
        render.key_values(
            [
                ("name", dash(algo.get("name"))),
                ("version", dash(algo.get("version"))),
                ("runs", dash(algo.get("image_ref"))),
                ("command", dash(" ".join(algo.get("command") or []))),
                ("description", dash(algo.get("description"))),
            ]
        )
    )
    table = Table(header_style="bold", title="published versions")
    for column in ("version", "image", "published", "by"):
        table.add_column(column, overflow="fold")
    for item in algo.get("history") or []:
        table.add_row(
            dash(item.get("version")),
            dash(item.get("image_ref")),
            dash(item.get("published_at")),
            dash(item.get("published_by")),
        )
    render.console.print(table)
