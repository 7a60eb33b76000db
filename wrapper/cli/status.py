"""`trainq status ID [--watch]`: a job's status, replica counts, its place in line with the
reason and ETA while it waits, and an epoch progress bar from its training metrics.
`--watch` redraws it live (`follow.Changes`: the event stream, else polling) until the job
ends, and exits 0 when it succeeded, 4 when it failed or was cancelled."""

import json
import time
from typing import Annotated

import typer
from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from wrapper.cli import render
from wrapper.cli.client import Client
from wrapper.cli.common import JobId, TeamOpt, TokenOpt, UrlOpt, connect
from wrapper.cli.errors import ApiProblem, CliError, Exit, handled
from wrapper.cli.follow import Changes
from wrapper.cli.render import Output, OutputOpt, dash

METRICS_STATUSES = frozenset(
    {
        "created",
        "running",
        "restarting",
        "succeeded",
        "failed",
        "cancelling",
        "cancelled",
        "suspended",
        "queued",
    }
)
SHOWN_VALUES = ("train_loss", "val_loss", "val_accuracy", "accuracy")


def status(
    ctx: typer.Context,
    job_id: JobId,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Follow it live until it ends")
    ] = False,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="With --watch: give up after S seconds (exit 5)", show_default=False
        ),
    ] = None,
    poll: Annotated[
        bool,
        typer.Option("--poll", help="With --watch: poll every 2 s instead of the event stream"),
    ] = False,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Show a job: status, replicas, place in line (reason, ETA), training progress."""
    with handled():
        client = connect(ctx, url, token, team)
        if watch:
            return watch_job(client, job_id, output, timeout, use_events=not poll)
        record = client.job(job_id)
        if output is Output.json:
            return render.print_json(record)
        render.console.print(view(record, training(client, record)))


def training(client: Client, record: dict) -> dict | None:
    """The job's training metrics, or None (none reported, or not served by this API)."""
    if record.get("status") not in METRICS_STATUSES or record.get("admitted_at") is None:
        return None
    try:
        metrics = client.metrics(int(record["id"]))
    except ApiProblem:
        return None
    return metrics if metrics.get("epochs") or metrics.get("final") else None


def watch_job(
    client: Client, job_id: int, output: Output, timeout: float | None, use_events: bool = True
) -> None:
    """Follows the job until it ends; raises typer.Exit with 0 (succeeded), 4 (failed or
    cancelled) or 5 (`timeout` passed)."""
    deadline = time.monotonic() + timeout if timeout else None
    changes = Changes(client, job_id, use_events)
    changes.start()
    live = None
    try:
        record = client.job(job_id)
        metrics = training(client, record)
        last = None
        if output is Output.table:
            live = Live(
                view(record, metrics, changes.note),
                console=render.console,
                auto_refresh=False,
                transient=False,
            )
            live.start()
        while True:
            if output is Output.json:
                if record != last:
                    typer.echo(json.dumps(record, separators=(",", ":")))
                last = record
            else:
                live.update(view(record, metrics, changes.note), refresh=True)
            if record.get("status") in render.TERMINAL:
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise CliError(
                    f"job {job_id} is still {record.get('status')} after {timeout:g}s (it goes on)",
                    Exit.TIMEOUT,
                )
            changes.wait(left)
            record = client.job(job_id)
            metrics = training(client, record) or metrics
    except KeyboardInterrupt:
        raise typer.Exit(130) from None
    finally:
        if live is not None:
            live.stop()
            if not render.console.is_terminal:
                render.console.line()  # (a terminal's Live ends its own line)
        changes.close()
    if record["status"] != "succeeded":
        raise typer.Exit(int(Exit.JOB_FAILED))


# --- the view ------------------------------------------------------------------------------
def view(record: dict, metrics: dict | None, note: str = "") -> Group:
    parts = [_summary(record), _replicas(record)]
    progress = _progress(record, metrics)
    if progress is not None:
        parts.append(progress)
    conditions = record.get("conditions") or []
    if conditions:
        parts.append(_conditions(conditions[-4:]))
    if note:
        parts.append(Text(f"{note}; Ctrl-C stops watching, the job goes on", style="dim"))
    return Group(*parts)


def _summary(rec: dict) -> Table:
    spec = rec.get("spec") or {}
    state = render.status_text(rec.get("status"))
    if rec.get("reason"):
        state.append(f"  {rec['reason']}", style="dim")
    algo = spec.get("algorithm")
    image = dash(spec.get("image"))
    if isinstance(algo, dict):
        image += f" (algorithm {dash(algo.get('name'))} {dash(algo.get('version'))})"
    elif algo:
        image += f" (algorithm {dash(algo)})"
    rows: list[tuple[str, object]] = [
        ("job", f"[bold]{rec['id']}[/] {dash(rec.get('name'))}  team {dash(rec.get('team'))}"),
        ("status", state),
        ("image", image),
    ]
    if rec.get("status") == "queued":
        rows += [
            (
                "position",
                f"{dash(rec.get('position'))} in the team's queue, "
                f"{dash(rec.get('global_position'))} among all teams",
            ),
            (
                "waiting for",
                f"{dash(rec.get('pending_reason'))}: {dash(rec.get('message'))}"
                if rec.get("pending_reason")
                else "[green]admissible now[/]",
            ),
            (
                "ETA",
                render.seconds(rec.get("eta_seconds"))
                if rec.get("eta_seconds") is not None
                else "unknown yet",
            ),
            ("waited", render.seconds(render.since(rec.get("submitted_at")))),
        ]
    elif rec.get("message"):
        rows.append(("message", dash(rec["message"])))
    rows.append(("submitted", dash(rec.get("submitted_at"))))
    if rec.get("started_at"):
        ran = render.since(rec["started_at"], rec.get("finished_at"))
        rows.append(("started", f"{dash(rec['started_at'])}  (ran {render.seconds(ran)})"))
    if rec.get("finished_at"):
        rows.append(("finished", dash(rec["finished_at"])))
    return render.key_values(rows)


def _replicas(rec: dict) -> Table:
    spec = rec.get("spec") or {}
    wanted = {"Master": 1, "Worker": spec.get("workers")}
    table = Table(title=None, show_edge=False, pad_edge=False, box=None, header_style="bold")
    for column in ("replica", "wanted", "active", "succeeded", "failed"):
        table.add_column(column, justify="left" if column == "replica" else "right")
    counts = rec.get("replicas") or {}
    for kind in sorted(set(counts) | {k for k, v in wanted.items() if v}):
        got = counts.get(kind) or {}
        table.add_row(
            kind,
            dash(wanted.get(kind)),
            str(got.get("active", 0)),
            str(got.get("succeeded", 0)),
            str(got.get("failed", 0)),
        )
    return table


def total_epochs(rec: dict, metrics: dict | None) -> int | None:
    """How many epochs the run will have: its reported hyperparameters, else its EPOCHS env."""
    hyper = (metrics or {}).get("hyperparameters") or {}
    for value in (hyper.get("epochs"), ((rec.get("spec") or {}).get("env") or {}).get("EPOCHS")):
        try:
            if value is not None and int(value) > 0:
                return int(value)
        except (TypeError, ValueError):
            continue
    return None


def _progress(rec: dict, metrics: dict | None) -> Table | None:
    if not metrics:
        return None
    epochs = metrics.get("epochs") or []
    done = max((p.get("epoch", 0) for p in epochs), default=0)
    total = total_epochs(rec, metrics)
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_column()
    if total:
        label = f"{done}/{total}"
        grid.add_row("epochs", render.bar(done, total, width=30), label)
    else:
        grid.add_row("epochs", str(done), "")
    if epochs:
        values = epochs[-1].get("values") or {}
        shown = [f"{k}={render.number(values[k])}" for k in SHOWN_VALUES if k in values]
        grid.add_row("last epoch", "  ".join(shown) or "-", "")
    final = metrics.get("final") or {}
    tests = {k: v for k, v in sorted(final.items()) if k.startswith("test_")}
    if tests:
        grid.add_row("final", "  ".join(f"{k}={render.number(v)}" for k, v in tests.items()), "")
    return grid


def _conditions(conditions: list[dict]) -> Table:
    table = Table(box=None, show_edge=False, pad_edge=False, header_style="bold")
    for column in ("condition", "reason", "since", "message"):
        table.add_column(column, overflow="fold")
    for cond in conditions:
        mark = "" if cond.get("status") == "True" else f"={dash(cond.get('status'))}"
        table.add_row(
            f"{dash(cond.get('type'))}{mark}",
            dash(cond.get("reason")),
            dash(cond.get("last_transition_time")),
            dash(cond.get("message")),
        )
    return table
