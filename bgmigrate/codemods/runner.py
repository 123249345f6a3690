"""One run of ``scan`` or ``rewrite``: configuration, discovery, analysis and audit together.

The CLI calls only this module; it turns every foreign error into a ``BgmigrateError``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from bgmigrate.codemods import cache
from bgmigrate.codemods.audit import AuditedSite, run_audit
from bgmigrate.codemods.discovery import SourceFile, discover
from bgmigrate.codemods.model import ErrorReport, ScanReport
from bgmigrate.codemods.project import Progress as Tick
from bgmigrate.codemods.project import Project, build, default_jobs
from bgmigrate.codemods.pyproject import CodemodConfig, find_pyproject, load_config
from bgmigrate.codemods.rules import check_codes
from bgmigrate.errors import ConfigError
from bgmigrate.stats import TaskStats, load_stats


@dataclasses.dataclass
class Run:
    """The outcome of analysing a tree."""

    config: CodemodConfig
    project: Project
    report: ScanReport
    sites: list[AuditedSite]
    roots: tuple[Path, ...]
    """The given paths with symbolic links resolved: ``rewrite`` writes only below them."""


@dataclasses.dataclass(frozen=True)
class Configured:
    """The effective configuration, and where the project it was found for lives."""

    config: CodemodConfig
    project_dir: Path
    """The directory of the nearest ``pyproject.toml`` of the scanned tree (the working
    directory when there is none): the cache goes there, never inside the scanned package."""


def effective_config(
    paths: list[Path], config_file: Path | None, cwd: Path, **overrides: object
) -> Configured:
    """``[tool.bgmigrate]`` (from ``config_file`` or the nearest ``pyproject.toml`` of the first
    path) + flags."""
    if config_file is not None and not config_file.is_file():
        raise ConfigError(f"{config_file}: no such configuration file")
    start = cwd / paths[0] if paths else cwd
    found = find_pyproject(start if start.is_dir() else start.parent)
    config = load_config(config_file or found).with_overrides(**overrides)
    check_codes(config.select, config.ignore)
    return Configured(config, found.parent if found else cwd)


def _check_paths(paths: list[Path], cwd: Path) -> None:
    missing = [str(p) for p in paths if not (cwd / p).exists()]
    if missing:
        raise ConfigError(f"no such file or directory: {', '.join(missing)}")


def _check_configured(paths: list[Path], cwd: Path) -> None:
    """Configured paths (unlike paths given on the command line) must stay in the current
    directory once links are resolved: ``src`` may be a link to ``/etc`` in a cloned tree."""
    here = cwd.resolve()
    for path in paths:
        resolved = (cwd / path).resolve()
        if resolved != here and here not in resolved.parents:
            raise ConfigError(
                f"[tool.bgmigrate] paths: {str(path)!r} resolves to {resolved}, outside {here}; "
                "give such a path on the command line instead"
            )


def _split_oversized(
    files: list[SourceFile], limit: int
) -> tuple[list[SourceFile], list[ErrorReport]]:
    """The files of at most ``limit`` bytes, and a report for each larger one (never read)."""
    kept: list[SourceFile] = []
    skipped: list[ErrorReport] = []
    for source in files:
        try:
            size = source.abs_path.stat().st_size
        except OSError:
            size = 0  # reported as unreadable when the analysis tries to read it
        if size > limit:
            message = (
                f"skipped: {size:,} bytes, over the max-file-size of {limit:,} "
                "(raise it with --max-file-size or [tool.bgmigrate] max-file-size)"
            )
            skipped.append(ErrorReport(source.display_path, message))
        else:
            kept.append(source)
    return kept, skipped


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Tick | None]:
    if not (enabled and sys.stderr.isatty()):
        yield None
        return
    columns = (TextColumn("scanning"), BarColumn(), MofNCompleteColumn())
    # On stderr: stdout may be a JSON or SARIF document.
    with Progress(*columns, transient=True, console=Console(stderr=True)) as bar:
        task = bar.add_task("scan", total=total)
        yield lambda n: bar.advance(task, n)


def load_evidence(paths: list[Path]) -> dict[str, TaskStats]:
    """Merged runtime statistics files (``--evidence``); a bad file is a ``ConfigError``."""
    try:
        return load_stats(paths)
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ConfigError(f"--evidence: cannot read runtime statistics: {exc}") from exc


def analyse(
    paths: list[Path],
    configured: Configured,
    cwd: Path,
    jobs: int | None,
    progress: bool,
    evidence: list[Path] | None = None,
) -> Run:
    """Discover, analyse and audit ``paths`` (or the configured paths when empty)."""
    config = configured.config
    observed = load_evidence(evidence) if evidence else {}
    given = paths or [Path(p) for p in config.paths]
    _check_paths(given, cwd)
    if not paths:
        _check_configured(given, cwd)
    files, skipped = _split_oversized(list(discover(given, config, cwd)), config.max_file_size)
    cache_path = (
        cache.cache_file(configured.project_dir, config.fingerprint()) if config.cache else None
    )
    with _progress(progress, len(files)) as tick:
        project = build(files, jobs or default_jobs(), tick, cache_path)
    report, sites = run_audit(project, config, observed)
    report.errors[:0] = skipped
    return Run(config, project, report, sites, tuple((cwd / p).resolve() for p in given))
