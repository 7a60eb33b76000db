"""What the CLI exits with, and how a failure reads: an API problem (RFC 9457 problem+json)
prints its title and detail and names each bad field; an unreachable server says where it
looked. Never a traceback."""

from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

import typer
from rich.console import Console
from rich.markup import escape


class Exit(IntEnum):
    OK = 0
    REFUSED = 1  # the API answered 4xx (not found, invalid, conflict, unauthorized...)
    USAGE = 2  # bad arguments or settings (typer/click's own usage errors are 2 too)
    UNAVAILABLE = 3  # the API answered 5xx, or could not be reached
    JOB_FAILED = 4  # `status --watch`, `submit --watch`: the job ended failed or cancelled
    TIMEOUT = 5  # `--watch --timeout`: the job had not finished in time


class CliError(Exception):
    """A failure to report and exit with `code`."""

    def __init__(self, message: str, code: Exit, lines: list[str] | None = None):
        super().__init__(message)
        self.message, self.code, self.lines = message, code, lines or []


class ApiProblem(CliError):
    """The API refused or failed: its problem+json (or whatever body it sent)."""

    def __init__(self, status: int, problem: dict):
        self.status, self.problem = status, problem
        title = problem.get("title") or f"HTTP {status}"
        detail = problem.get("detail")
        message = f"{title} ({status})" + (f": {detail}" if detail else "")
        lines = []
        for item in problem.get("errors") or []:
            if isinstance(item, dict):
                field, text = item.get("field") or "(body)", item.get("message") or ""
                lines.append(f"{field}: {text}")
        if status == 401:
            lines.append("check the token: --token, TRAINQ_TOKEN or the config file")
        code = Exit.UNAVAILABLE if status >= 500 else Exit.REFUSED
        super().__init__(message, code, lines)


class Unreachable(CliError):
    def __init__(self, url: str, reason: str):
        super().__init__(f"cannot reach trainq at {url}: {reason}", Exit.UNAVAILABLE)


def usage(message: str) -> CliError:
    return CliError(message, Exit.USAGE)


stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def report(error: CliError) -> None:
    stderr.print(f"[bold red]Error:[/] {escape(error.message)}")
    for line in error.lines:
        stderr.print(f"  {escape(line)}")


@contextmanager
def handled() -> Iterator[None]:
    """Runs a command body: a CliError is printed and becomes its exit code."""
    try:
        yield
    except CliError as exc:
        report(exc)
        raise typer.Exit(int(exc.code)) from None


def errors_note(message: str) -> None:
    """A remark on stderr that is not a failure."""
    stderr.print(f"[dim]{escape(message)}[/]")
