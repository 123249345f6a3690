"""``bgmigrate scan``: report every BackgroundTasks use with findings and a verdict."""

from __future__ import annotations

import io
from pathlib import Path

import typer
from rich.console import Console

from bgmigrate.cli import options
from bgmigrate.codemods.reporters import Format, json_report, sarif, text

_FORMAT = typer.Option(Format.TEXT, "--format", help="Report format.")
_OUTPUT = typer.Option(None, "--output", "-o", help="Write the report to this file.")


def scan(
    paths: list[Path] | None = options.PATHS,
    output_format: Format = _FORMAT,
    output: Path | None = _OUTPUT,
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
    """Find every BackgroundTasks use, audit each add_task call site, give a verdict.

    Exit codes: 0 nothing found; 1 findings, hand-built uses or unused suppressions;
    2 a file could not be parsed, or a usage, configuration or internal error.
    """
    with options.error_boundary():
        flags = options.overrides(select, ignore, exclude, no_cache, max_file_size)
        run = options.analyse_paths(paths, config, flags, jobs, not no_progress, evidence)
        if output_format is Format.TEXT:
            buffer = io.StringIO() if output else None
            console = (
                Console(file=buffer, highlight=False, soft_wrap=True)
                if buffer
                else Console(highlight=False, soft_wrap=True)
            )
            text.render(run.report, console)
            rendered = buffer.getvalue() if buffer else None
        else:
            rendered = (
                json_report.render(run.report)
                if output_format is Format.JSON
                else sarif.render(run.report, Path.cwd())
            )
            if output is None:
                typer.echo(rendered, nl=False)
        if output is not None and rendered is not None:
            output.write_text(rendered, encoding="utf-8")
    raise typer.Exit(run.report.exit_code())
