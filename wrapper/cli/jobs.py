"""`trainq submit` (a job file, flags, or `--algorithm`), `trainq cancel`, `suspend`,
`resume`: the job-changing commands. A submission goes to POST /v1/teams/{team}/jobs, the
same body a job file holds (docs/api.md, "Submitting a job")."""

import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from wrapper.cli import render, status
from wrapper.cli.common import JobId, TeamOpt, TokenOpt, UrlOpt, connect
from wrapper.cli.errors import handled, usage
from wrapper.cli.render import Output, OutputOpt

Pairs = list[str] | None


def _opt(*names: str, help: str, **kw):
    return typer.Option(*names, help=help, show_default=False, **kw)


def read_job_file(path: str) -> dict:
    """A job body from YAML or JSON ('-': standard input)."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except OSError as exc:
        raise usage(f"cannot read {path}: {exc.strerror}") from None
    try:
        body = yaml.safe_load(text)  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise usage(f"{path} is not valid YAML or JSON: {exc}") from None
    if not isinstance(body, dict):
        raise usage(f"{path} must hold one job: a mapping of the job's fields (docs/cli.md)")
    return body


def pairs(items: Pairs, option: str) -> dict[str, str]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise usage(f"{option} takes KEY=VALUE, not {item!r}")
        out[key] = value
    return out


def build_body(file: str | None, flags: dict) -> dict:
    """The job file, then each flag given on top of it."""
    body = read_job_file(file) if file else {}
    for key in (
        "name",
        "image",
        "algorithm",
        "workers",
        "priority",
        "restart_policy",
        "backoff_limit",
        "max_runtime_seconds",
    ):
        if flags.get(key) is not None:
            body[key] = flags[key]
    if flags.get("command") is not None:
        body["command"] = shlex.split(flags["command"])
    if flags.get("args"):
        body["args"] = list(flags["args"])
    resources = {k: flags[k] for k in ("cpu", "memory", "gpu") if flags.get(k) is not None}
    if resources:
        body["resources"] = {**(body.get("resources") or {}), **resources}
    for key, option in (("env", "--env"), ("labels", "--label"), ("annotations", "--annotation")):
        given = pairs(flags.get(key), option)
        if given:
            body[key] = {**(body.get(key) or {}), **given}
    if flags.get("dataset"):
        ident, sep, version = flags["dataset"].partition(":")
        if not sep or not ident or not version:
            raise usage("--dataset takes ID:VERSION_HASH")
        body["dataset"] = {"id": ident, "version_hash": version}
    if not body.get("name"):
        raise usage("give a job file (trainq submit job.yaml) or at least --name")
    return body


def submit(
    ctx: typer.Context,
    file: Annotated[
        str | None,
        typer.Argument(
            help="Job file (YAML or JSON; '-' reads stdin): "
            "the fields of POST /v1/teams/{team}/jobs",
            show_default=False,
        ),
    ] = None,
    name: Annotated[str | None, _opt("--name", "-n", help="Job name (DNS label)")] = None,
    image: Annotated[str | None, _opt("--image", help="Container image")] = None,
    algorithm: Annotated[
        str | None, _opt("--algorithm", "-a", help="A registered algorithm instead of --image")
    ] = None,
    command: Annotated[
        str | None, _opt("--command", "-c", help="Container command, one string ('python -m x')")
    ] = None,
    args: Annotated[
        list[str] | None, _opt("--arg", help="A container argument (repeatable)")
    ] = None,
    env: Annotated[
        Pairs,
        _opt(
            "--env", "-e", "--param", "-p", help="KEY=VALUE env var / hyperparameter (repeatable)"
        ),
    ] = None,
    workers: Annotated[
        int | None, _opt("--workers", "-w", help="Worker replicas (+1 Master)", min=0)
    ] = None,
    cpu: Annotated[str | None, _opt("--cpu", help="CPU per replica ('2', '500m')")] = None,
    memory: Annotated[str | None, _opt("--memory", help="Memory per replica ('8Gi')")] = None,
    gpu: Annotated[int | None, _opt("--gpu", help="GPUs per replica", min=0)] = None,
    priority: Annotated[int | None, _opt("--priority", help="-1000..1000 (default 0)")] = None,
    max_runtime: Annotated[
        int | None, _opt("--max-runtime", help="Seconds before it is stopped", min=1)
    ] = None,
    restart_policy: Annotated[
        str | None, _opt("--restart-policy", help="OnFailure, Never or ExitCode")
    ] = None,
    backoff_limit: Annotated[int | None, _opt("--backoff-limit", help="Restarts", min=0)] = None,
    dataset: Annotated[str | None, _opt("--dataset", help="ID:VERSION_HASH")] = None,
    label: Annotated[Pairs, _opt("--label", help="KEY=VALUE pod label (repeatable)")] = None,
    annotation: Annotated[Pairs, _opt("--annotation", help="KEY=VALUE (repeatable)")] = None,
    idempotency_key: Annotated[
        str | None, _opt("--idempotency-key", help="Retry-safe: the same key, the same job")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Where it would land; write nothing")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", help="Then follow it (as status --watch)")
    ] = False,
    timeout: Annotated[
        float | None, _opt("--timeout", help="With --watch: give up after S seconds")
    ] = None,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Submit a job: a job file, flags, or both (flags win)."""
    with handled():
        flags = {
            "name": name,
            "image": image,
            "algorithm": algorithm,
            "command": command,
            "args": args,
            "env": env,
            "workers": workers,
            "cpu": cpu,
            "memory": memory,
            "gpu": gpu,
            "priority": priority,
            "max_runtime_seconds": max_runtime,
            "restart_policy": restart_policy,
            "backoff_limit": backoff_limit,
            "dataset": dataset,
            "labels": label,
            "annotations": annotation,
        }
        body = build_body(file, flags)
        client = connect(ctx, url, token, team)
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        params = {"dry_run": "true"} if dry_run else None
        answer = client.post(client.team_path("/jobs"), body, params=params, headers=headers)
        if dry_run:
            return _show_dry_run(answer, output)
        if output is Output.json and not watch:
            return render.print_json(answer)
        if output is Output.table:
            where = (
                f", position {answer['position']} in the team's queue"
                if answer.get("position") is not None
                else ""
            )
            render.console.print(
                f"Submitted job [bold]{answer['id']}[/] ({render.dash(answer.get('name'))}) "
                f"for team {client.team}: {answer.get('status')}{where}"
            )
            if not watch:
                render.console.print(f"Follow it: trainq status {answer['id']} --watch")
        if watch:
            status.watch_job(client, int(answer["id"]), output, timeout)


def _show_dry_run(answer: dict, output: Output) -> None:
    if output is Output.json:
        return render.print_json(answer)
    now = "[green]yes[/]" if answer.get("admissible_now") else "[yellow]no[/]"
    demand = answer.get("demand") or {}
    render.console.print("Dry run: nothing was submitted.")
    render.console.print(
        render.key_values(
            [
                ("admissible now", now),
                (
                    "position",
                    f"{render.dash(answer.get('position'))} in the team's queue, "
                    f"{render.dash(answer.get('global_position'))} among all teams",
                ),
                ("pending reason", render.dash(answer.get("pending_reason"))),
                ("message", render.dash(answer.get("message"))),
                ("ETA", render.seconds(answer.get("eta_seconds"))),
                ("placement", render.dash(", ".join(answer.get("placement") or []))),
                ("demand", render.dash(", ".join(f"{k} {v}" for k, v in demand.items()))),
                ("replicas", render.dash(answer.get("replicas"))),
            ]
        )
    )


def _change(
    ctx: typer.Context, job_id: int, method: str, suffix: str, output: Output, url, token, team
) -> None:
    with handled():
        client = connect(ctx, url, token, team)
        path = client.team_path(f"/jobs/{job_id}{suffix}")
        record = client.delete(path) if method == "DELETE" else client.post(path)
        if output is Output.json:
            return render.print_json(record)
        text = render.status_text(record.get("status"))
        render.console.print(f"job {job_id} ({render.dash(record.get('name'))}): ", text, sep="")


def cancel(
    ctx: typer.Context,
    job_id: JobId,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Cancel a job (queued, suspended or running: its PyTorchJob is deleted)."""
    _change(ctx, job_id, "DELETE", "", output, url, token, team)


def suspend(
    ctx: typer.Context,
    job_id: JobId,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Suspend a job: out of its queue, its pods stopped (they checkpoint), nothing held."""
    _change(ctx, job_id, "POST", "/suspend", output, url, token, team)


def resume(
    ctx: typer.Context,
    job_id: JobId,
    output: OutputOpt = Output.table,
    url: UrlOpt = None,
    token: TokenOpt = None,
    team: TeamOpt = None,
):
    """Resume a suspended job: back to its place in its team's queue."""
    _change(ctx, job_id, "POST", "/resume", output, url, token, team)
