"""One ``rewrite`` run over an analysed tree: plan, rewrite each file, diff or write it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from bgmigrate.codemods.discovery import SourceFile, package_root
from bgmigrate.codemods.lint_friendly import line_length
from bgmigrate.codemods.long_tasks import TaskSettings
from bgmigrate.codemods.model import ErrorReport
from bgmigrate.codemods.plan import FilePlan, plan
from bgmigrate.codemods.pyproject import find_pyproject
from bgmigrate.codemods.rewriter import RewriteError, rewrite_source
from bgmigrate.codemods.runner import Run
from bgmigrate.codemods.string_refs import names_in_tests
from bgmigrate.codemods.writer import unified_diff, write_atomic


@dataclasses.dataclass(frozen=True)
class Change:
    """One file the rewrite changes."""

    source: SourceFile
    before: bytes
    after: bytes
    decorated: tuple[str, ...] = ()
    """Qualnames of the functions that get ``@task`` in this file."""
    task_settings: tuple[tuple[str, TaskSettings], ...] = ()
    """Qualname and the timeout/retry written on its ``@task``, in this file."""

    @property
    def display(self) -> str:
        """The file as reports show it."""
        return self.source.display_path

    def diff(self) -> bytes:
        """The change as a unified diff (bytes: the file's own encoding and line endings)."""
        return unified_diff(self.source.display_path, self.before, self.after)

    def write(self) -> None:
        """Replace the file atomically."""
        write_atomic(self.source.abs_path, self.after)


def outside(path: Path, roots: tuple[Path, ...]) -> Path | None:
    """Where ``path`` really is, when links take it outside every root; else ``None``."""
    real = path.resolve()
    if any(real == root or root in real.parents for root in roots):
        return None
    return real


def project_root(roots: tuple[Path, ...]) -> Path:
    """The directory of the nearest ``pyproject.toml`` of the first path, else the directory
    its modules are imported from (above its packages): where the project's tests,
    dependencies and settings live, and where the app and its workers start."""
    start = roots[0] if roots and roots[0].is_dir() else (roots[0].parent if roots else Path.cwd())
    found = find_pyproject(start)
    if found is not None:
        return found.parent
    # `rewrite docapp` names the tasks `docapp.processing`: settings written inside the
    # package would not be found by a worker started where that name imports.
    return package_root(start.resolve())


def changes(run: Run, errors: list[ErrorReport], widen_types: bool = False) -> Iterator[Change]:
    """Every file whose rewrite differs from its current content; failures go to ``errors``
    (``widen_types``: ``rewrite --widen-types``).

    A file that is a link to a place outside the given paths is reported, never rewritten.
    """
    sources = {s.display_path: s for s in run.project.files}
    local_names = {n for f in run.project.facts.values() for n in f.bg_local_names if "." not in n}
    root = project_root(run.roots)
    named, width = names_in_tests(root, local_names), line_length(root)
    for path, file_plan in sorted(plan(run.project, run.sites, named, widen_types).items()):
        file_plan.line_length = width
        source = sources.get(path)
        if source is None:
            continue
        real = outside(source.abs_path, run.roots)
        if real is not None:
            errors.append(ErrorReport(path, f"not rewritten: a link to {real}, outside the paths"))
            continue
        try:
            change = _change(source, file_plan)
        except OSError as exc:
            errors.append(ErrorReport(path, f"cannot read: {exc}"))
        except RewriteError as exc:
            errors.append(ErrorReport(path, str(exc)))
        except Exception as exc:
            # One file libcst cannot handle (RecursionError on deep nesting, a codec error) is
            # reported and the run goes on, as in scan; nothing of it has been written.
            errors.append(ErrorReport(path, f"cannot rewrite: {type(exc).__name__}: {exc}"))
        else:
            if change is not None:
                yield change


def _change(source: SourceFile, file_plan: FilePlan) -> Change | None:
    """The file's rewrite, or ``None`` when it would not change."""
    before = source.abs_path.read_bytes()
    if file_plan.empty and not _has_class_annotation(before, file_plan.facts.bg_local_names):
        return None
    rewritten = rewrite_source(before, file_plan)
    if rewritten.data == before:
        return None
    settings = tuple(sorted((name, file_plan.task_settings[name]) for name in rewritten.configured))
    return Change(source, before, rewritten.data, tuple(sorted(file_plan.decorate)), settings)


def _has_class_annotation(data: bytes, names: tuple[str, ...]) -> bool:
    """Cheap test for class-level ``x: BackgroundTasks`` (class-based views)."""
    return b"class " in data and any(f": {n}".encode() in data for n in names)
