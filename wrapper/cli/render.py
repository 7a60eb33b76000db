"""Shared pieces of what the commands print: the `--output` choice, JSON, status colours,
durations, Kubernetes quantities and usage bars."""

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

console = Console(highlight=False, soft_wrap=False)
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
STATUS_STYLE = {
    "queued": "yellow",
    "suspended": "magenta",
    "dispatching": "cyan",
    "created": "cyan",
    "running": "bold blue",
    "restarting": "bold yellow",
    "cancelling": "dim",
    "succeeded": "bold green",
    "failed": "bold red",
    "cancelled": "dim",
}


class Output(StrEnum):
    table = "table"
    json = "json"


OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="table (default) or json")]


def print_json(data) -> None:
    """JSON on stdout, one document (`--output json`): no colour, no wrapping."""
    typer.echo(json.dumps(data, indent=2, sort_keys=False))


def status_text(status: str | None) -> Text:
    return Text(status or "-", style=STATUS_STYLE.get(status or "", ""))


def dash(value) -> str:
    return "-" if value is None or value == "" else escape(str(value))


def seconds(value: float | None) -> str:
    """A duration for people: 42s, 3m05s, 2h10m."""
    if value is None:
        return "-"
    value = max(0, round(value))
    if value < 60:
        return f"{value}s"
    if value < 3600:
        return f"{value // 60}m{value % 60:02d}s"
    return f"{value // 3600}h{value % 3600 // 60:02d}m"


def parse_time(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def since(stamp: str | None, until: str | None = None) -> float | None:
    start = parse_time(stamp)
    end = parse_time(until) or datetime.now(UTC)
    return (end - start).total_seconds() if start else None


_SUFFIX = {
    "": 1,
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "T": 1e12,
    "P": 1e15,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "Pi": 2**50,
}
_QUANTITY = re.compile(r"^([0-9.]+)(m|k|M|G|T|P|Ki|Mi|Gi|Ti|Pi)?$")


def quantity(value) -> float | None:
    """A Kubernetes quantity ('500m', '16Gi', 4) as a number; None when it is not one."""
    if isinstance(value, int | float):
        return float(value)
    match = _QUANTITY.match(str(value or "").strip())
    if not match:
        return None
    try:
        return float(match.group(1)) * _SUFFIX[match.group(2) or ""]
    except ValueError:
        return None


def bar(used: float | None, total: float | None, width: int = 24) -> Table | str:
    """A usage bar with its percentage (red past 100%: borrowed)."""
    if used is None or not total:
        return "-"
    grid = Table.grid(padding=(0, 1))
    grid.add_row(
        ProgressBar(total=total, completed=min(used, total), width=width,
                    complete_style="red" if used > total else "green"),
        f"{100 * used / total:3.0f}%",
    )  # fmt: skip
    return grid


def key_values(rows: list[tuple[str, object]]) -> Table:
    """A borderless two-column table of label → value."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column()
    for label, value in rows:
        table.add_row(label, value if not isinstance(value, str) else Text.from_markup(value))
    return table


def number(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.4g}"
    return dash(value)
