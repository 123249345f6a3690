"""``bgmigrate jobs``: list, retry and discard failed jobs (see :mod:`bgmigrate.failed_jobs`)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from bgmigrate.adapters.worker_setup import import_task_modules
from bgmigrate.errors import BgmigrateError, UnknownJobError
from bgmigrate.failed_jobs import FailedJob, FailedJobs, failed_jobs
from bgmigrate.runtime import get_runtime

app = typer.Typer(
    no_args_is_help=True,
    help="""List, retry and discard failed jobs (and see the dead letters).

A job whose attempts are exhausted is kept in Redis (BGMIGRATE_FAILED_JOBS_URL, else the
broker) up to BGMIGRATE_FAILED_JOBS_MAX records and BGMIGRATE_FAILED_JOBS_TTL seconds.
Exit codes: 0 done, 1 a job id is not kept, 2 a configuration or store error.

Examples:

  bgmigrate jobs failed --since 1h
  bgmigrate jobs retry --all --task app.tasks.send_email
  bgmigrate jobs discard 3f2b9c0d...
""",
)

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")

TaskOption = Annotated[str | None, typer.Option("--task", help="Only jobs of this task name.")]
AllOption = Annotated[bool, typer.Option("--all", help="Every kept failed job (of --task).")]


def parse_since(text: str, now: float | None = None) -> float:
    """``--since``: a duration back from now (``30s``, ``10m``, ``2h``, ``7d``) or an ISO 8601
    time (UTC when it names no zone), as Unix seconds."""
    match = _DURATION.fullmatch(text.strip())
    if match:
        return (now or time.time()) - float(match[1]) * _UNITS[match[2]]
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(
            f"{text!r} is neither a duration (30s, 10m, 2h, 7d) nor an ISO 8601 time"
        ) from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _store() -> FailedJobs:
    try:
        return failed_jobs()
    except BgmigrateError as exc:
        _fail(exc, 2)


def _fail(exc: BgmigrateError, code: int) -> NoReturn:
    typer.secho(f"bgmigrate jobs: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code) from exc


def _when(seconds: float | None) -> str:
    return "-" if seconds is None else datetime.fromtimestamp(seconds, UTC).isoformat()


def _render(jobs: list[FailedJob], console: Console) -> None:
    for job in jobs:
        console.print(
            f"[bold]{escape(job.id)}[/bold] {escape(job.task)}({escape(job.args)}) "
            f"[dim]{job.backend}, {job.attempts} attempt(s), failed {_when(job.failed_at)}[/dim]"
        )
        console.print(f"    [red]{escape(job.error_type)}: {escape(job.error)}[/red]")
    console.print(f"{len(jobs)} failed job(s)")


@app.command(
    "failed",
    epilog="Examples:\n\n  bgmigrate jobs failed\n"
    "  bgmigrate jobs failed --task app.tasks.send_email --since 2h --json\n"
    "  bgmigrate jobs failed --dead-letters",
)
def failed(
    task: TaskOption = None,
    since: Annotated[
        str | None,
        typer.Option(help="Only jobs failed since: a duration (30s, 10m, 2h, 7d) or ISO time."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON document (with tracebacks), for scripts.")
    ] = False,
    dead_letters: Annotated[
        bool,
        typer.Option("--dead-letters", help="List the malformed messages workers refused instead."),
    ] = False,
) -> None:
    """List failed jobs, oldest first (or the dead letters, newest first)."""
    store = _store()
    try:
        if dead_letters:
            letters = [asdict(letter) for letter in store.dead_letters()]
            typer.echo(json.dumps(letters, indent=2))
            return
        jobs = store.list(task=task, since=None if since is None else parse_since(since))
    except BgmigrateError as exc:
        _fail(exc, 2)
    if as_json:
        typer.echo(json.dumps([asdict(job) for job in jobs], indent=2))
    else:
        _render(jobs, Console(highlight=False, soft_wrap=True))


def _act(
    store: FailedJobs, job_id: str | None, every: bool, task: str | None, verb: str
) -> list[str]:
    """The ids ``retry``/``discard`` act on: ``job_id``, or all (of ``task``) in ``store`` with
    ``--all``."""
    if (job_id is None) == (not every):
        raise typer.BadParameter(f"give a job id or --all to {verb}")
    if job_id is not None:
        return [job_id]
    return [job.id for job in store.list(task=task)]


@app.command(
    "retry",
    epilog="Examples:\n\n  bgmigrate jobs retry 3f2b9c0d...\n"
    "  bgmigrate jobs retry --all --task app.tasks.send_email",
)
def retry(
    job_id: Annotated[str | None, typer.Argument(help="The failed job's id.")] = None,
    every: AllOption = False,
    task: TaskOption = None,
) -> None:
    """Enqueue failed jobs again with their original arguments (as new jobs), then remove them.

    The tasks are found by importing BGMIGRATE_TASK_MODULES, and routed as any call of them.
    """
    store = _store()
    ids = _act(store, job_id, every, task, "retry")
    try:
        if store.settings.task_modules:  # else retry() names the setting if a task is unknown
            import_task_modules(store.settings)
        for failed_id in ids:
            handle = store.retry(failed_id)
            typer.echo(f"retried {failed_id} as job {handle.id}")
    except UnknownJobError as exc:
        _fail(exc, 1)
    except BgmigrateError as exc:
        _fail(exc, 2)
    finally:
        # An in-process retry runs in this process: let it finish before exiting.
        asyncio.run(get_runtime().close())


@app.command(
    "discard",
    epilog="Examples:\n\n  bgmigrate jobs discard 3f2b9c0d...\n"
    "  bgmigrate jobs discard --all --task app.tasks.send_email",
)
def discard(
    job_id: Annotated[str | None, typer.Argument(help="The failed job's id.")] = None,
    every: AllOption = False,
    task: TaskOption = None,
) -> None:
    """Remove failed jobs for good: they will not run."""
    store = _store()
    ids = _act(store, job_id, every, task, "discard")
    try:
        removed = [failed_id for failed_id in ids if store.discard(failed_id)]
    except BgmigrateError as exc:
        _fail(exc, 2)
    if job_id is not None and not removed:
        typer.secho(f"bgmigrate jobs: no failed job with id {job_id!r} is kept", err=True)
        raise typer.Exit(1)
    typer.echo(f"discarded {len(removed)} failed job(s)")
