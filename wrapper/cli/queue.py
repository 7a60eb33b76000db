"""`trainq queue [--team T]`: the team's queue in admission order, each job's place, why it
waits and its ETA, and the team's quota, usage and borrowing as bars
(GET /v1/teams/{team}/queue). `--all` (admin token): every team at a glance (GET /v1/queues)."""

from typing import Annotated

import typer
from rich.table import Table

from wrapper.cli import render
from wrapper.cli.common import TeamOpt, TokenOpt, UrlOpt, connect
from wrapper.cli.errors import handled
from wrapper.cli.render import Output, OutputOpt, dash

RESOURCES = ("cpu", "memory", "gpu")


def queue(
    ctx: typer.Context,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit", "-l", help="At most N jobs (1-500)", min=1, max=500, show_default=False
        ),
    ] = None,
    all_teams: Annotated[
        bool, typer.Option("--all", help="Every team's summary (admin token)")
    ] = False,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Show the team's queue: positions, reasons, ETAs, quota usage."""
    with handled():
        client = connect(ctx, url, token, team)
        if all_teams:
            summary = client.get("/v1/queues")
            return render.print_json(summary) if output is Output.json else _all(summary)
        page = client.get(client.team_path("/queue"), limit=limit)
        if output is Output.json:
            return render.print_json(page)
        render.console.print(standing(page))
        render.console.print(jobs_table(page))
        shown, total = len(page.get("jobs") or []), page.get("queued") or 0
        if page.get("next_cursor") or shown < total:
            render.console.print(f"[dim]{shown} of {total} queued jobs shown (--limit)[/]")


def usage_rows(quota: dict, usage: dict, borrowed: dict | None) -> Table:
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for column in ("resource", "usage of quota", "used", "quota", "borrowed"):
        table.add_column(
            column, justify="left" if column in ("resource", "usage of quota") else "right"
        )
    rows = [("jobs", usage.get("jobs"), quota.get("max_running_jobs"), None)]
    rows += [(r, usage.get(r), quota.get(r), (borrowed or {}).get(r)) for r in RESOURCES]
    for name, used, total, lent in rows:
        used_n, total_n = render.quantity(used), render.quantity(total)
        table.add_row(
            name,
            render.bar(used_n, total_n),
            dash(used),
            dash(total),
            dash(lent) if lent not in (None, 0, "0") else "-",
        )
    return table


def standing(page: dict) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    head = (
        f"[bold]team {dash(page.get('team'))}[/]  queued {dash(page.get('queued'))}  "
        f"running {dash(page.get('running'))}  weight {dash(page.get('weight'))}  "
        f"share {render.number(page.get('share'))}  oldest wait "
        f"{render.seconds(page.get('oldest_wait_seconds'))}"
    )
    if page.get("borrowing_limit"):
        limit = page["borrowing_limit"]
        head += "  borrowing limit " + ", ".join(f"{k} {v}" for k, v in limit.items())
    grid.add_row(head)
    grid.add_row(usage_rows(page.get("quota") or {}, page.get("usage") or {}, page.get("borrowed")))
    return grid


def jobs_table(page: dict) -> Table:
    table = Table(header_style="bold", show_lines=False)
    for column in ("pos", "all", "id", "name", "prio", "waiting for", "ETA", "waited", "demand"):
        table.add_column(
            column,
            overflow="fold",
            justify="right" if column in ("pos", "all", "id", "prio") else "left",
        )
    for job in page.get("jobs") or []:
        reason = job.get("pending_reason")
        why = f"{reason}: {dash(job.get('message'))}" if reason else "[green]admissible now[/]"
        demand = ", ".join(f"{k} {v}" for k, v in (job.get("demand") or {}).items())
        table.add_row(
            dash(job.get("position")),
            dash(job.get("global_position")),
            dash(job.get("id")),
            dash(job.get("name")),
            dash(job.get("priority")),
            why,
            render.seconds(job.get("eta_seconds")),
            render.seconds(job.get("wait_seconds")),
            dash(demand),
        )
    if not page.get("jobs"):
        table.caption = "the queue is empty"
    return table


def _all(summary: dict) -> None:
    capacity, used = summary.get("capacity") or {}, summary.get("used") or {}
    render.console.print(
        f"[bold]cluster[/]  admissions/min "
        f"{render.number(summary.get('admission_rate_per_minute'))}"
    )
    if capacity:
        render.console.print(usage_rows({**capacity, "max_running_jobs": None}, used, None))
    table = Table(header_style="bold")
    for column in (
        "team",
        "weight",
        "share",
        "queued",
        "running",
        "oldest wait",
        "gpu used/quota",
        "borrowed",
    ):
        table.add_column(column, justify="left" if column == "team" else "right")
    for team in summary.get("teams") or []:
        quota, use, lent = team.get("quota") or {}, team.get("usage") or {}, team.get("borrowed")
        borrowed = ", ".join(f"{k} {v}" for k, v in (lent or {}).items() if v not in (0, "0"))
        table.add_row(
            dash(team.get("team")),
            dash(team.get("weight")),
            render.number(team.get("share")),
            dash(team.get("queued")),
            dash(team.get("running")),
            render.seconds(team.get("oldest_wait_seconds")),
            f"{dash(use.get('gpu'))}/{dash(quota.get('gpu'))}",
            borrowed or "-",
        )
    render.console.print(table)
