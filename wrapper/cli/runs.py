"""`trainq runs [--algorithm A] [--dataset D] [--sort -test_accuracy]`: the team's runs with
what made them and their final metrics (GET /v1/teams/{team}/runs); `--compare A B`: two jobs
side by side, their inputs and metrics, with what differs marked."""

from typing import Annotated

import typer
from rich.table import Table

from wrapper.cli import render
from wrapper.cli.common import TeamOpt, TokenOpt, UrlOpt, connect
from wrapper.cli.errors import handled
from wrapper.cli.render import Output, OutputOpt, dash

MAX_METRIC_COLUMNS = 4
MAX_PARAM_COLUMNS = 4


def runs(
    ctx: typer.Context,
    algorithm: Annotated[
        str | None,
        typer.Option("--algorithm", "-a", help="Only this algorithm", show_default=False),
    ] = None,
    dataset: Annotated[
        str | None, typer.Option("--dataset", help="Only this dataset id", show_default=False)
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            "--sort",
            help="[-]key: id, submitted_at, finished_at or a final metric (-test_accuracy)",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", "-l", min=1, max=200, show_default=False)
    ] = None,
    compare: Annotated[
        tuple[int, int] | None,
        typer.Option(
            "--compare", metavar="A B", help="Two job ids side by side", show_default=False
        ),
    ] = None,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Compare the team's runs: inputs, hyperparameters, final metrics."""
    with handled():
        client = connect(ctx, url, token, team)
        if compare:
            return _compare(client, compare, output)
        answer = client.get(
            client.team_path("/runs"),
            algorithm=algorithm,
            dataset_id=dataset,
            sort=sort,
            limit=limit,
        )
        if output is Output.json:
            return render.print_json(answer)
        render.console.print(runs_table(answer.get("items") or []))
        render.console.print(
            f"[dim]{len(answer.get('items') or [])} runs of the team's newest "
            f"{dash(answer.get('scanned'))} jobs[/]"
        )


def metric_columns(items: list[dict]) -> list[str]:
    keys = {k for run in items for k in (run.get("final") or {})}
    tests = sorted(k for k in keys if k.startswith("test_"))
    preferred = [k for k in ("test_accuracy", "test_f1_macro") if k in tests]
    rest = [k for k in tests if k not in preferred] + sorted(keys - set(tests))
    return (preferred + rest)[:MAX_METRIC_COLUMNS]


def varying_params(items: list[dict]) -> list[str]:
    """The env keys (hyperparameters as submitted) whose values differ between the runs."""
    keys = sorted({k for run in items for k in (run.get("env") or {})})
    varying = [k for k in keys if len({(run.get("env") or {}).get(k) for run in items}) > 1]
    return varying[:MAX_PARAM_COLUMNS]


def runs_table(items: list[dict]) -> Table:
    metrics, params = metric_columns(items), varying_params(items)
    table = Table(header_style="bold")
    for column in ("id", "name", "status", "algorithm", "dataset", *params, *metrics, "epochs"):
        table.add_column(
            column,
            overflow="fold",
            justify="left" if column in ("name", "status", "algorithm", "dataset") else "right",
        )
    for run in items:
        algo, data = run.get("algorithm") or {}, run.get("dataset") or {}
        final, env = run.get("final") or {}, run.get("env") or {}
        table.add_row(
            dash(run.get("id")),
            dash(run.get("name")),
            render.status_text(run.get("status")),
            f"{algo['name']} {algo.get('version', '')}" if algo else dash(run.get("image")),
            dash(data.get("id")),
            *(dash(env.get(k)) for k in params),
            *(render.number(final.get(k)) for k in metrics),
            dash(run.get("epochs_reported")),
        )
    if not items:
        table.caption = "no runs match"
    return table


def _side(client, job_id: int) -> dict:
    record = client.job(job_id)
    metrics = client.metrics(job_id)
    spec = record.get("spec") or {}
    algo = spec.get("algorithm")
    rows = {
        "name": record.get("name"),
        "status": record.get("status"),
        "image": spec.get("image"),
        "algorithm": algo
        if not isinstance(algo, dict)
        else f"{algo.get('name')} {algo.get('version')}",
        "dataset": (spec.get("dataset") or {}).get("id"),
        "workers": spec.get("workers"),
        "epochs reported": len(metrics.get("epochs") or []),
        "weights sha256": (metrics.get("weights_sha256") or "")[:16] or None,
    }
    rows |= {f"env {k}": v for k, v in sorted((spec.get("env") or {}).items())}
    rows |= {f"hyper {k}": v for k, v in sorted((metrics.get("hyperparameters") or {}).items())}
    rows |= {f"final {k}": v for k, v in sorted((metrics.get("final") or {}).items())}
    return {"record": record, "metrics": metrics, "rows": rows}


def _compare(client, ids: tuple[int, int], output: Output) -> None:
    a, b = (_side(client, i) for i in ids)
    keys = list(dict.fromkeys([*a["rows"], *b["rows"]]))
    differ = [k for k in keys if a["rows"].get(k) != b["rows"].get(k)]
    if output is Output.json:
        return render.print_json(
            {
                "a": {"record": a["record"], "metrics": a["metrics"]},
                "b": {"record": b["record"], "metrics": b["metrics"]},
                "differences": differ,
            }
        )
    table = Table(header_style="bold")
    table.add_column("")
    table.add_column(f"job {ids[0]}", overflow="fold")
    table.add_column(f"job {ids[1]}", overflow="fold")
    table.add_column("B - A", justify="right")
    for key in keys:
        va, vb = a["rows"].get(key), b["rows"].get(key)
        delta = ""
        if isinstance(va, int | float) and isinstance(vb, int | float) and va != vb:
            delta = f"{vb - va:+.4g}"
        style = "bold yellow" if key in differ else None
        table.add_row(key, render.number(va), render.number(vb), delta, style=style)
    render.console.print(table)
    render.console.print(f"[dim]{len(differ)} of {len(keys)} rows differ (highlighted)[/]")
