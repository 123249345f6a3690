"""Options shared by ``scan``, ``rewrite`` and ``config``, and the error boundary of the CLI."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import typer

from bgmigrate.codemods.pyproject import DEFAULT_MAX_FILE_SIZE
from bgmigrate.codemods.runner import Run, analyse, effective_config
from bgmigrate.errors import BgmigrateError

PATHS = typer.Argument(
    None, help="Files or directories (default: \\[tool.bgmigrate] paths, else '.')."
)
CONFIG = typer.Option(
    None, "--config", help="pyproject.toml to read \\[tool.bgmigrate] from (default: nearest)."
)
SELECT = typer.Option(
    None, "--select", help="Only these rule codes or prefixes (repeatable, e.g. BGM101)."
)
IGNORE = typer.Option(
    None, "--ignore", help="Skip these rule codes/prefixes, or path patterns (repeatable)."
)
EXCLUDE = typer.Option(
    None, "--exclude", help="Extra path patterns to skip, added to the configured excludes."
)
JOBS = typer.Option(None, "--jobs", "-j", min=1, help="Processes for parsing (default: all cores).")
EVIDENCE = typer.Option(
    None,
    "--evidence",
    help="Runtime statistics file(s) of the in-process backend (BGMIGRATE_STATS_PATH); "
    "tasks measured over budget, failing or queueing get BGM201-BGM203.",
)
NO_CACHE = typer.Option(
    False, "--no-cache", help="Neither read nor write the per-file cache (.bgmigrate_cache/)."
)
MAX_FILE_SIZE = typer.Option(
    None,
    "--max-file-size",
    min=1,
    metavar="BYTES",
    help=f"Skip (and report) files larger than this (default: {DEFAULT_MAX_FILE_SIZE}).",
)
NO_PROGRESS = typer.Option(False, "--no-progress", help="No progress bar, even on a terminal.")


def overrides(
    select: list[str] | None,
    ignore: list[str] | None,
    exclude: list[str] | None,
    no_cache: bool = False,
    max_file_size: int | None = None,
) -> dict[str, object]:
    """Command-line values that override ``[tool.bgmigrate]`` (``None``: not given)."""
    return {
        "select": tuple(select) if select else None,
        "ignore": tuple(ignore) if ignore else None,
        "extend_exclude": tuple(exclude) if exclude else None,
        "cache": False if no_cache else None,
        "max_file_size": max_file_size,
    }


def fail(message: str) -> typer.Exit:
    """Print ``bgmigrate: error: message`` on stderr; the caller raises the result (exit 2)."""
    typer.echo(f"bgmigrate: error: {message}", err=True)
    return typer.Exit(2)


@contextlib.contextmanager
def error_boundary() -> Iterator[None]:
    """Turn every error into one line on stderr and exit code 2: never a traceback."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except BgmigrateError as exc:
        raise fail(str(exc)) from exc
    except Exception as exc:
        raise fail(f"internal error: {type(exc).__name__}: {exc}") from exc


def analyse_paths(
    paths: list[Path] | None,
    config: Path | None,
    flags: dict[str, object],
    jobs: int | None,
    progress: bool,
    evidence: list[Path] | None = None,
) -> Run:
    """Read the configuration (file + ``flags``), then discover, analyse and audit ``paths``.

    Paths in reports are relative to the current directory.
    """
    here = Path.cwd()
    given = list(paths or [])
    configured = effective_config(given, config, here, **flags)
    return analyse(given, configured, here, jobs, progress, evidence)
