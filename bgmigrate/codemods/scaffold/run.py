"""All scaffold steps for one ``rewrite --backend`` run, on top of the code rewrite's output."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.codemods.discovery import SourceFile
from bgmigrate.codemods.names import TASK_DECORATOR
from bgmigrate.codemods.plan import FilePlan, plan
from bgmigrate.codemods.rewrite_run import Change, project_root
from bgmigrate.codemods.runner import Run
from bgmigrate.codemods.scaffold.compose import add_services
from bgmigrate.codemods.scaffold.dependencies import add_dependency
from bgmigrate.codemods.scaffold.lifespan import app_with_startup, wire_lifespan
from bgmigrate.codemods.scaffold.model import Edit, Files, Outcome
from bgmigrate.codemods.scaffold.settings import write_settings
from bgmigrate.codemods.string_refs import is_test_file


def task_modules(plans: dict[str, FilePlan]) -> list[str]:
    """Modules with a ``@task`` after the rewrite (added now or already there), sorted."""
    return sorted(
        {
            p.facts.module
            for p in plans.values()
            if p.decorate or any(TASK_DECORATOR in f.decorators for f in p.facts.functions)
        }
    )


def _app_sources(run: Run) -> list[SourceFile]:
    """The project's files that build a FastAPI app (a test's own app is not the app)."""
    return [
        source
        for source in run.project.files
        if not is_test_file(Path(source.display_path))
        and b"FastAPI(" in source.abs_path.read_bytes()
    ]


def worker_lifespan(run: Run) -> str | None:
    """``module:name`` of the first app with start-up code of its own (see
    :func:`app_with_startup`), for ``BGMIGRATE_WORKER_LIFESPAN``."""
    for source in _app_sources(run):
        name = app_with_startup(source.abs_path.read_bytes())
        if name is not None:
            return f"{run.project.facts[source.display_path].module}:{name}"
    return None


def _lifespan(run: Run, changes: list[Change]) -> Outcome:
    """Wire the lifespan into each module that builds a FastAPI app (after the code rewrite)."""
    rewritten = {c.source.display_path: c for c in changes}
    outcome = Outcome()
    for source in _app_sources(run):
        change = rewritten.get(source.display_path)
        before = change.after if change else source.abs_path.read_bytes()
        module = run.project.facts[source.display_path].module
        after, done, left = wire_lifespan(before, module.partition(".")[0])
        outcome.done += [f"{source.display_path}: {done}"] if done else []
        outcome.left += [f"{source.display_path}: {left}"] if left else []
        if after != before:
            original = source.abs_path.read_bytes()
            outcome.edits.append(Edit(source.abs_path, source.display_path, original, after))
    if not outcome.done and not outcome.left:
        outcome.left.append("no FastAPI(...) app found: use FastAPI(lifespan=bgmigrate.lifespan)")
    return outcome


def scaffold(run: Run, backend: str, changes: list[Change]) -> Outcome:
    """Every step's edits and checklist; a lifespan edit of a rewritten file includes the
    rewrite (it replaces that file's ``Change``)."""
    root = project_root(run.roots)
    files, outcome = Files(), Outcome()
    modules = task_modules(plan(run.project, run.sites))
    settings = write_settings(files, root, backend, modules, worker_lifespan(run))
    outcome.add(files.apply(settings))
    outcome.add(files.apply(_lifespan(run, changes)))
    outcome.add(files.apply(add_dependency(files, root, backend)))
    outcome.add(add_services(files, root))
    return outcome
