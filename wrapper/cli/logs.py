"""`trainq logs ID [-f] [--replica Worker --index 1] [--tail N]`: a replica's log, live from
the cluster while its pod exists, else the copy trainq kept when the job ended
(GET /v1/teams/{team}/jobs/{id}/logs). `-f` keeps streaming, and waits for a container that
has not started yet."""

import sys
import time
from enum import StrEnum
from typing import Annotated

import typer

from wrapper.cli import render
from wrapper.cli.common import JobId, TeamOpt, TokenOpt, UrlOpt, connect
from wrapper.cli.errors import ApiProblem, errors_note, handled, usage
from wrapper.cli.render import Output, OutputOpt

SOURCE = "Trainq-Log-Source"
WAIT_SECONDS = 2.0


class Replica(StrEnum):
    Master = "Master"
    Worker = "Worker"


def logs(
    ctx: typer.Context,
    job_id: JobId,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            "-f",
            help="Keep streaming while it runs (waits for a container not started yet)",
        ),
    ] = False,
    replica: Annotated[
        Replica, typer.Option("--replica", "-r", help="Master or Worker")
    ] = Replica.Master,
    index: Annotated[
        int, typer.Option("--index", "-i", help="Which replica of that type, from 0", min=0)
    ] = 0,
    tail: Annotated[
        int | None,
        typer.Option(
            "--tail", help="Only the last N lines", min=1, max=100_000, show_default=False
        ),
    ] = None,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Print a replica's log (live, or the copy kept after the job ended)."""
    with handled():
        if follow and output is Output.json:
            raise usage("--output json reads the log once: leave out --follow")
        client = connect(ctx, url, token, team)
        params = {
            "replica": replica.value,
            "index": index,
            "tail": tail,
            "follow": "true" if follow else None,
        }
        response = _open(client, job_id, params, follow)
        source = response.headers.get(SOURCE, "")
        try:
            if output is Output.json:
                text = response.content.decode("utf-8", errors="replace")
                return render.print_json(
                    {
                        "job_id": job_id,
                        "replica": replica.value,
                        "index": index,
                        "source": source,
                        "log": text,
                    }
                )
            for chunk in response.iter_content(chunk_size=None):
                sys.stdout.write(chunk.decode("utf-8", errors="replace"))
                sys.stdout.flush()
        except KeyboardInterrupt:
            raise typer.Exit(130) from None
        finally:
            response.close()


def _open(client, job_id: int, params: dict, follow: bool):
    """The log response; with -f, a replica whose container has not started yet (409) is waited
    for, telling so once on stderr."""
    told = False
    while True:
        try:
            return client.log(job_id, params)
        except ApiProblem as exc:
            if not (follow and exc.status == 409):
                raise
            if not told:
                errors_note(f"waiting for the container to start ({exc.problem.get('detail')})")
                told = True
            if client.job(job_id).get("status") in render.TERMINAL:
                raise
            time.sleep(WAIT_SECONDS)
