"""``bgmigrate rewrite``: move BackgroundTasks call sites onto bgmigrate's runtime API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bgmigrate.cli import options
from bgmigrate.codemods.model import ErrorReport
from bgmigrate.codemods.reporters.text import printable
from bgmigrate.errors import ConfigError

if TYPE_CHECKING:
    from bgmigrate.codemods.rewrite_run import Change
    from bgmigrate.codemods.runner import Run

_DIFF = typer.Option(False, "--diff", help="Print a unified diff; write nothing.")
_CHECK = typer.Option(False, "--check", help="Write nothing; exit 1 if a file would change.")
_WIDEN = typer.Option(
    False,
    "--widen-types",
    help="Also change a task parameter's hint that its arguments do not fit (BGM115: "
    "'user_id: int' given a UUID becomes 'user_id: UUID'). Without it, only missing hints "
    "are added.",
)

NEXT_STEPS = """\
They still run in this process until BGMIGRATE_BACKEND (or BGMIGRATE_ROUTES) names a queue.
Before that, the app needs:
  - bgmigrate's lifespan: FastAPI(lifespan=bgmigrate.lifespan), or
    `async with bgmigrate.lifespan(): yield` inside its own
  - a worker: bgmigrate worker --backend celery (or --backend arq)"""
"""What ``rewrite`` prints when it adds ``@task``: the decorator alone moves nothing."""


def _changes() -> Callable[[Run, list[ErrorReport], bool], Iterator[Change]]:
    """The rewrite, imported on use: libcst is the optional ``codemod`` extra."""
    try:
        from bgmigrate.codemods.rewrite_run import changes
    except ModuleNotFoundError as exc:
        if exc.name != "libcst":
            raise
        message = "bgmigrate rewrite needs libcst: pip install 'bgmigrate[codemod]'"
        raise ConfigError(message) from exc
    return changes


def rewrite(
    paths: list[Path] | None = options.PATHS,
    diff: bool = _DIFF,
    check: bool = _CHECK,
    widen_types: bool = _WIDEN,
    config: Path | None = options.CONFIG,
    select: list[str] | None = options.SELECT,
    ignore: list[str] | None = options.IGNORE,
    exclude: list[str] | None = options.EXCLUDE,
    jobs: int | None = options.JOBS,
    evidence: list[Path] | None = options.EVIDENCE,
    no_cache: bool = options.NO_CACHE,
    max_file_size: int | None = options.MAX_FILE_SIZE,
    no_progress: bool = options.NO_PROGRESS,
) -> None:
    """Rewrite BackgroundTasks parameters to Tasks/RequestBatch and add @task to tasks to migrate.

    add_task calls stay as they are; a '# bgmigrate: BGMxxx ...' comment marks what a human
    must fix. A task parameter without a hint gets the type its arguments have (BGM115), so
    that the codec takes them; --widen-types also widens hints they do not fit. When it adds
    @task it says what else the app needs (bgmigrate's lifespan and a worker, before a queue
    backend is chosen). --diff and --check combine. Exit codes: 0 done
    (or nothing to change); 1 with --check when a file would change; 2 a file could not be
    parsed or rewritten, or a usage, configuration or internal error.
    """
    with options.error_boundary():
        flags = options.overrides(select, ignore, exclude, no_cache, max_file_size)
        run = options.analyse_paths(paths, config, flags, jobs, not no_progress, evidence)
        errors: list[ErrorReport] = list(run.report.errors)
        changed = 0
        decorated: list[str] = []
        for change in _changes()(run, errors, widen_types):
            if diff:
                typer.echo(change.diff(), nl=False)
            elif check:
                typer.echo(f"would rewrite {printable(change.source.display_path)}", err=True)
            else:
                try:
                    change.write()
                except OSError as exc:  # the file is left as it was; the run goes on
                    errors.append(ErrorReport(change.source.display_path, f"cannot write: {exc}"))
                    continue
                typer.echo(f"rewrote {printable(change.source.display_path)}", err=True)
            decorated += [printable(f"{change.source.display_path}:{n}") for n in change.decorated]
            changed += 1
        for error in errors:
            line = f"{error.path}:{error.line or 1}:1: error: {error.message}"
            typer.echo(printable(line), err=True)
        verb = "would be rewritten" if diff or check else "rewritten"
        typer.echo(f"{changed} file{'' if changed == 1 else 's'} {verb}", err=True)
        if decorated:
            added = "would be added" if diff or check else "added"
            typer.echo(f"@task {added} to {', '.join(decorated)}\n{NEXT_STEPS}", err=True)
    if errors:
        raise typer.Exit(2)
    raise typer.Exit(1 if changed and check else 0)
