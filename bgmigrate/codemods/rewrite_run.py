"""One ``rewrite`` run over an analysed tree: plan, rewrite each file, diff or write it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from bgmigrate.codemods.discovery import SourceFile
from bgmigrate.codemods.model import ErrorReport
from bgmigrate.codemods.plan import plan
from bgmigrate.codemods.rewriter import RewriteError, rewrite_source
from bgmigrate.codemods.runner import Run
from bgmigrate.codemods.writer import unified_diff, write_atomic


@dataclasses.dataclass(frozen=True)
class Change:
    """One file the rewrite changes."""

    source: SourceFile
    before: bytes
    after: bytes
    decorated: tuple[str, ...] = ()
    """Qualnames of the functions that get ``@task`` in this file."""

    def diff(self) -> bytes:
        """The change as a unified diff (bytes: the file's own encoding and line endings)."""
        return unified_diff(self.source.display, self.before, self.after)

    def write(self) -> None:
        """Replace the file atomically."""
        write_atomic(self.source.path, self.after)


def changes(run: Run, errors: list[ErrorReport]) -> Iterator[Change]:
    """Every file whose rewrite differs from its current content; failures go to ``errors``."""
    sources = {s.display: s for s in run.project.files}
    for path, file_plan in sorted(plan(run.project, run.sites).items()):
        source = sources.get(path)
        if source is None:
            continue
        try:
            before = source.path.read_bytes()
        except OSError as exc:
            errors.append(ErrorReport(path, f"cannot read: {exc}"))
            continue
        if file_plan.empty and not _has_class_annotation(before, file_plan.facts.bg_local_names):
            continue
        try:
            after = rewrite_source(before, file_plan)
        except RewriteError as exc:
            errors.append(ErrorReport(path, str(exc)))
            continue
        if after != before:
            yield Change(source, before, after, tuple(sorted(file_plan.decorate)))


def _has_class_annotation(data: bytes, names: tuple[str, ...]) -> bool:
    """Cheap test for class-level ``x: BackgroundTasks`` (class-based views)."""
    return b"class " in data and any(f": {n}".encode() in data for n in names)
