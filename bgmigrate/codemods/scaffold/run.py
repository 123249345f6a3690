"""All scaffold steps for one ``rewrite --backend`` run, on top of the code rewrite's output."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.codemods.discovery import SourceFile
from bgmigrate.codemods.names import TASK_DECORATOR
from bgmigrate.codemods.rewrite_run import Change, project_root
from bgmigrate.codemods.runner import Run
from bgmigrate.codemods.scaffold.compose import add_services
from bgmigrate.codemods.scaffold.dependencies import add_dependency
from bgmigrate.codemods.scaffold.lifespan import app_with_startup, wire_lifespan
from bgmigrate.codemods.scaffold.model import Edit, Files, Outcome
from bgmigrate.codemods.scaffold.settings import write_settings
from bgmigrate.codemods.string_refs import is_test_file


def task_modules(run: Run, changes: list[Change]) -> list[str]:
    """Modules with a ``@task`` after the rewrite (added by ``changes`` or already there),
    sorted."""
    facts = run.project.facts
    added = {facts[c.source.display_path].module for c in changes if c.decorated}
    present = {
        f.module for f in facts.values() if any(TASK_DECORATOR in d.decorators for d in f.functions)
    }
    return sorted(added | present)


def _app_sources(run: Run) -> list[tuple[SourceFile, bytes]]:
    """The project's files that build a FastAPI app (a test's own app is not the app), with
    their contents: read once for every step."""
    found = []
    for source in run.project.files:
        if is_test_file(Path(source.display_path)):
            continue
        data = source.abs_path.read_bytes()
        if b"FastAPI(" in data:
            found.append((source, data))
    return found


def worker_lifespan(run: Run, apps: list[tuple[SourceFile, bytes]]) -> str | None:
    """``module:name`` of the first app with start-up code of its own (see
    :func:`app_with_startup`), for ``BGMIGRATE_WORKER_LIFESPAN``."""
    for source, data in apps:
        name = app_with_startup(data)
        if name is not None:
            return f"{run.project.facts[source.display_path].module}:{name}"
    return None


def _lifespan(run: Run, apps: list[tuple[SourceFile, bytes]], changes: list[Change]) -> Outcome:
    """Wire the lifespan into each module that builds a FastAPI app (after the code rewrite)."""
    rewritten = {c.source.display_path: c for c in changes}
    outcome = Outcome()
    for source, original in apps:
        change = rewritten.get(source.display_path)
        before = change.after if change else original
        module = run.project.facts[source.display_path].module
        after, done, left = wire_lifespan(before, module.partition(".")[0])
        outcome.done += [f"{source.display_path}: {done}"] if done else []
        outcome.left += [f"{source.display_path}: {left}"] if left else []
        if after != before:
            outcome.edits.append(Edit(source.abs_path, source.display_path, original, after))
    if not outcome.done and not outcome.left:
        outcome.left.append("no FastAPI(...) app found: use FastAPI(lifespan=bgmigrate.lifespan)")
    return outcome


def scaffold(run: Run, backend: str, changes: list[Change]) -> Outcome:
    """Every step's edits and checklist; a lifespan edit of a rewritten file includes the
    rewrite (it replaces that file's ``Change``)."""
    root = project_root(run.roots)
    files, outcome = Files(), Outcome()
    apps = _app_sources(run)
    modules = task_modules(run, changes)
    settings = write_settings(files, root, backend, modules, worker_lifespan(run, apps))
    outcome.add(files.apply(settings))
    outcome.add(files.apply(_lifespan(run, apps, changes)))
    outcome.add(files.apply(add_dependency(files, root, backend)))
    outcome.add(add_services(files, root))
    return outcome
