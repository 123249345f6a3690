"""``bgmigrate rewrite``: move BackgroundTasks call sites onto bgmigrate's runtime API."""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bgmigrate.cli import options
from bgmigrate.codemods.long_tasks import checklist
from bgmigrate.codemods.model import ErrorReport
from bgmigrate.codemods.reporters.text import printable
from bgmigrate.errors import ConfigError

if TYPE_CHECKING:
    from bgmigrate.codemods.long_tasks import TaskSettings
    from bgmigrate.codemods.rewrite_run import Change
    from bgmigrate.codemods.runner import Run
    from bgmigrate.codemods.scaffold.model import Edit

_DIFF = typer.Option(False, "--diff", help="Print a unified diff; write nothing.")
_CHECK = typer.Option(False, "--check", help="Write nothing; exit 1 if a file would change.")
_BACKEND = typer.Option(
    None,
    "--backend",
    help="Also set the project up for this queue: [tool.bgmigrate.settings] in pyproject.toml, "
    "bgmigrate.lifespan in the app, bgmigrate[BACKEND] in its dependencies, Redis and a "
    "worker in its compose file; then print a checklist.",
)


class Backend(enum.StrEnum):
    """Queues ``rewrite --backend`` sets a project up for."""

    celery = "celery"
    arq = "arq"


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


def _scaffold(run: Run, backend: Backend, changes: list[Change]) -> tuple[list[Edit], str]:
    """The project edits of ``--backend`` and its checklist (the rewrite's changes of files it
    also edits are dropped from ``changes``: its edits include them)."""
    from bgmigrate.codemods.scaffold.run import scaffold

    outcome = scaffold(run, backend.value, changes)
    edited = {edit.path for edit in outcome.edits}
    changes[:] = [c for c in changes if c.source.abs_path not in edited]
    lines = [f"  [x] {line}" for line in outcome.done] + [f"  [ ] {line}" for line in outcome.left]
    return outcome.edits, "Checklist:\n" + "\n".join(printable(line) for line in lines)


def rewrite(
    paths: list[Path] | None = options.PATHS,
    diff: bool = _DIFF,
    check: bool = _CHECK,
    backend: Backend | None = _BACKEND,
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

    add_task calls stay as they are; a '# bgmigrate: BGMxxx ...' comment (wrapped to the
    project's line length) marks what a human must fix. An import that the project's tests
    patch by name stays. @task is never stacked on another queue's task (Celery's
    @shared_task or @app.task and the like: BGM119 asks to pick one) and never shadows a name
    the module binds to something else (then it writes @bgmigrate.task). A task parameter
    without a hint gets the type its arguments have (BGM115), so that the codec takes them;
    --widen-types also widens hints they do not fit.
    Each @task added gets timeout= (and a RetryPolicy for tasks that must
    not be lost or failed when measured), from --evidence when given, else defaults, with a
    comment saying where the numbers came from; with --evidence, a bare @task (or one an
    earlier rewrite configured) gets measured ones. Timeouts beyond Celery's default Redis
    visibility timeout are named with the value to set. When it adds @task it says what else
    the app needs (bgmigrate's lifespan and a worker, before a queue backend is chosen).

    With --backend celery|arq it also sets the project up for that queue and prints a
    checklist of what it did and what is left: [tool.bgmigrate.settings] in pyproject.toml
    (backend and task modules, so that the app and `bgmigrate worker` need only
    BGMIGRATE_BROKER_URL; worker-lifespan, module:app, when the app has start-up code of its
    own, which each worker process then runs), bgmigrate.lifespan in the FastAPI app (nested
    in its own @asynccontextmanager lifespan), bgmigrate[BACKEND] in its dependencies
    (pyproject.toml or requirements.txt; lock files are left to re-lock, and exact pins that
    bgmigrate cannot be installed beside, such as pydantic==2.8.2, are named), and Redis and
    a worker service in its compose file (or a new compose.yaml). A second run changes
    nothing; git checkout undoes it.

    --diff and --check combine. Exit codes: 0 done (or nothing to change); 1 with --check when a
    file would change; 2 a file could not be parsed or rewritten, or a usage, configuration or
    internal error.
    """
    with options.error_boundary():
        flags = options.overrides(select, ignore, exclude, no_cache, max_file_size)
        run = options.analyse_paths(paths, config, flags, jobs, not no_progress, evidence)
        errors: list[ErrorReport] = list(run.report.errors)
        changed = 0
        changes = list(_changes()(run, errors, widen_types))
        decorated = [f"{c.source.display_path}:{n}" for c in changes for n in c.decorated]
        configured: list[tuple[str, TaskSettings]] = [
            (printable(f"{c.source.display_path}:{n}"), settings)
            for c in changes
            for n, settings in c.task_settings
        ]
        edits, scaffolded = _scaffold(run, backend, changes) if backend else ([], "")
        items: list[Change | Edit] = [*changes, *edits]
        for item in items:
            path = item.display
            if diff:
                typer.echo(item.diff(), nl=False)
            elif check:
                typer.echo(f"would rewrite {printable(path)}", err=True)
            else:
                try:
                    item.write()
                except OSError as exc:  # the file is left as it was; the run goes on
                    errors.append(ErrorReport(path, f"cannot write: {exc}"))
                    continue
                verb = "wrote" if item.before is None else "rewrote"
                typer.echo(f"{verb} {printable(path)}", err=True)
            changed += 1
        for error in errors:
            line = f"{error.path}:{error.line or 1}:1: error: {error.message}"
            typer.echo(printable(line), err=True)
        verb = "would be rewritten" if diff or check else "rewritten"
        typer.echo(f"{changed} file{'' if changed == 1 else 's'} {verb}", err=True)
        if decorated:
            added = "would be added" if diff or check else "added"
            where = printable(", ".join(decorated))
            next_steps = "" if backend else f"\n{NEXT_STEPS}"  # --backend: the checklist says
            typer.echo(f"@task {added} to {where}{next_steps}", err=True)
        for line in checklist(configured):
            typer.echo(line, err=True)
        if scaffolded:
            typer.echo(scaffolded, err=True)
    if errors:
        raise typer.Exit(2)
    raise typer.Exit(1 if changed and check else 0)
