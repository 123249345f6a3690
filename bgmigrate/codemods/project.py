"""The project pass, in four stages (``build``):

1. probe: byte-test every file and analyse the candidates, in parallel;
2. settle: spread what one file says about another (re-exports, helpers that receive the
   object) until nothing changes;
3. follow: read the modules the audit looks into that the byte test skipped (a task defined
   in a file that never mentions BackgroundTasks), so the audit and the rewrite only read;
4. settle the call sites (after caching, which keeps each file's own facts): arguments whose
   annotation is a request-scoped alias declared in another module, tasks that are methods of
   another module's instance.

Memory stays flat in the number of files: file contents are read, tested and dropped; only the
facts of candidate files are kept.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bgmigrate.codemods import cache
from bgmigrate.codemods.argument_types import follow_types
from bgmigrate.codemods.cache import Entries
from bgmigrate.codemods.callables import MADE, RETURNED
from bgmigrate.codemods.discovery import SourceFile
from bgmigrate.codemods.facts import CallableKind, FileFacts, Hints, RawCallSite, TaskRef
from bgmigrate.codemods.finder import analyze
from bgmigrate.codemods.index import Found, FunctionIndex, ModuleIndex
from bgmigrate.codemods.names import BACKGROUND_TASKS, matches
from bgmigrate.codemods.summaries import Summaries

# A file that never spells any of these cannot use BackgroundTasks nor call add_task (nor mount
# the routers of endpoints that do).
MARKERS = (b"ackground", b"add_task", b"include_router")
_MAX_ROUNDS = 6
_PARALLEL_THRESHOLD = 24
Progress = Callable[[int], None]
Job = TypeVar("Job")
Result = TypeVar("Result")


def read(source: SourceFile) -> bytes | None:
    """The file's bytes, or ``None`` when it cannot be read."""
    try:
        return source.abs_path.read_bytes()
    except OSError:
        return None


def is_candidate(data: bytes) -> bool:
    """The cheap byte test run before any parsing."""
    return any(marker in data for marker in MARKERS)


def _analyze_path(job: tuple[Path, str, str, Hints]) -> FileFacts:
    path, display, module, hints = job
    try:
        data = path.read_bytes()
    except OSError as exc:
        return FileFacts(display, module, error=f"cannot read: {exc.strerror}")
    return analyze(data, display, module, hints)


def run_jobs(
    work: list[Job],
    run: Callable[[Job], Result],
    jobs: int,
    chunks_per_process: int,
    init: Callable[..., None] | None = None,
    init_args: tuple[Any, ...] = (),
) -> Iterator[Result]:
    """``run`` over ``work`` in ``jobs`` processes (in this one for one job or few files, where
    starting processes costs more than it saves), streaming results in order."""
    if jobs <= 1 or len(work) < _PARALLEL_THRESHOLD:
        if init is not None:
            init(*init_args)
        yield from map(run, work)
        return
    chunksize = max(1, len(work) // (jobs * chunks_per_process))
    with ProcessPoolExecutor(max_workers=jobs, initializer=init, initargs=init_args) as pool:
        yield from pool.map(run, work, chunksize=chunksize)


def analyze_many(sources: list[SourceFile], hints: Hints, jobs: int) -> Iterator[FileFacts]:
    """Analyse ``sources`` with ``jobs`` processes, streaming results."""
    work = [(s.abs_path, s.display_path, s.module, hints) for s in sources]
    return run_jobs(work, _analyze_path, jobs, chunks_per_process=8)


@dataclasses.dataclass
class Project:
    """Facts of every analysed file, resolved across files."""

    files: list[SourceFile]
    index: FunctionIndex
    hints: dict[str, Hints]
    """The hints each analysed file was last analysed with, by display path."""
    current: Hints = dataclasses.field(default_factory=Hints)
    """The latest project-wide hints (files read by ``follow`` get these)."""
    swept: set[str] = dataclasses.field(default_factory=set)
    """Aliases the skipped files were already byte-tested for (each is looked for once)."""
    summaries: Summaries = dataclasses.field(init=False)
    """What each function reached from a task does (files are read as the summaries need)."""

    def __post_init__(self) -> None:
        self.summaries = Summaries(self.following)

    @property
    def facts(self) -> dict[str, FileFacts]:
        """Analysed files by display path."""
        return self.index.facts

    def resolve(self, qualified: str) -> Found | None:
        """The function definition ``qualified`` names, among the files analysed so far."""
        return self.index.resolve(qualified)

    def follow(self, names: Iterable[str]) -> None:
        """Analyse the files that define (or re-export) ``names`` but the byte test skipped."""
        for name in names:
            while (source := self.index.unread(name)) is not None:
                job = (source.abs_path, source.display_path, source.module, self.current)
                self.index.add(_analyze_path(job))
                self.hints[source.display_path] = self.current

    def follow_tasks(self) -> None:
        """Stage 3: read what the audit looks into — the functions handed the object, the
        dependencies, each call site's task, its decorators and every function it reaches (each
        file is read once, however deep)."""
        analysed = list(self.facts.values())
        self.follow(p.callee for f in analysed for p in f.passes)
        self.follow(d for f in analysed for function in f.functions for d in function.depends)
        sites = [site for f in analysed for site in f.call_sites]
        self.follow(name for site in sites for name in site.task.lambda_calls)
        self.follow(a.alias for site in sites for a in site.arguments if a.alias)
        # Summarising each task reads every function it reaches, however deep.
        for site in sites:
            for target in targets(site.task):
                found = self.following(self.returned_target(target)) if target else None
                if found is not None:
                    self.summaries.of(*found)
                    self.follow(found[1].decorators)  # the app's own, told from a queue's
        follow_types(self)

    def following(self, name: str | None) -> Found | None:
        """The function ``name`` names, reading its file (and re-exports) when not yet read."""
        if name is None:
            return None
        self.follow([name])
        return self.resolve(name)

    def settle_sites(self) -> None:
        """Stage 4 (after caching, which keeps each file's own facts): give the call sites what
        only the whole project tells."""
        for facts in list(self.facts.values()):
            if facts.call_sites:
                self.index.add(dataclasses.replace(facts, call_sites=self._settled(facts)))

    def _settled(self, facts: FileFacts) -> tuple[RawCallSite, ...]:
        """``facts``' call sites with what only the whole project tells: arguments annotated
        with a request-scoped alias declared in another module, and tasks that are methods of
        another module's instance (``sync_service.run``)."""
        settled = []
        for site in facts.call_sites:
            arguments = tuple(
                dataclasses.replace(a, request_scoped=kind)
                if a.alias and (kind := self.index.scoped_alias(a.alias))
                else a
                for a in site.arguments
            )
            task = self._returned(site.task)
            found = self.resolve(task.target) if task.target else None
            if task.kind is CallableKind.FUNCTION and found is not None and found[1].is_method:
                task = dataclasses.replace(task, kind=CallableKind.BOUND_METHOD)
            settled.append(dataclasses.replace(site, arguments=arguments, task=task))
        return tuple(settled)

    def _returned(self, task: TaskRef) -> TaskRef:
        """``task`` with its target through ``returned_target``."""
        if task.target is None or not (RETURNED in task.target or task.target.endswith(MADE)):
            return task
        target = self.returned_target(task.target)
        unknown = target is None and task.target.endswith(MADE)
        kind = CallableKind.DYNAMIC if unknown else task.kind
        return dataclasses.replace(task, kind=kind, target=target)

    def returned_target(self, target: str) -> str | None:
        """A method of what a function returns (``temp_zip().unlink``) named by the class of
        the function's return annotation (``pathlib.Path.unlink``), and what a factory returns
        (``make_runner()``) named by the closure it returns (``make_runner.<locals>.run``);
        ``None`` when they are unknown. Any other target is itself."""
        if target.endswith(MADE):
            factory = self.following(target.removesuffix(MADE))
            closure = factory[1].closure if factory else None
            return f"{factory[0].module}.{closure}".lstrip(".") if factory and closure else None
        function, joined, method = target.rpartition(RETURNED)
        if not joined:
            return target
        found = self.following(function)
        returned = found[1].returns if found else None
        return f"{returned}.{method}" if returned else None

    def _global_hints(self) -> Hints:
        names = {
            f"{f.module}.{name}" if f.module else name
            for f in self.facts.values()
            for name in f.bg_exports
        }
        attrs = {attr for f in self.facts.values() for attr in f.bg_attrs}
        return Hints(frozenset(names), self._bg_params(), frozenset(attrs))

    def _bg_params(self) -> frozenset[tuple[str, str]]:
        params: set[tuple[str, str]] = set()
        passes = [passed for facts in self.facts.values() for passed in facts.passes]
        self.follow(passed.callee for passed in passes)
        for passed in passes:
            found = self.resolve(passed.callee)
            if found is None:
                continue
            target_file, function = found
            key = f"{target_file.module}.{function.qualname}".lstrip(".")
            params.update(
                (key, p.name) for p in passed.receivers(function.params, function.is_method)
            )
        return frozenset(params)

    def settle(self, jobs: int) -> None:
        """Re-analyse files whose hints changed until a fixed point (bounded)."""
        for _ in range(_MAX_ROUNDS):
            hints = self.current = self._global_hints()
            self._sweep_reexports(hints, jobs)
            stale = [
                s for s in self.files if s.display_path in self.facts and self._relevant(s, hints)
            ]
            if not stale:
                return
            for facts in analyze_many(stale, hints, jobs):
                self.index.add(facts)
                self.hints[facts.display_path] = hints

    def _relevant(self, source: SourceFile, hints: Hints) -> bool:
        """Whether ``hints`` could change what the analysis of ``source`` finds."""
        old = self.hints.get(source.display_path, Hints())
        if old == hints:
            return False
        facts = self.facts[source.display_path]
        prefix = f"{source.module}."
        # Hints that disappeared matter as much as new ones (a cached analysis may hold them).
        new_params = {p for p in hints.bg_params ^ old.bg_params if p[0].startswith(prefix)}
        new_names = hints.bg_names ^ old.bg_names
        new_owners = {a.rpartition(".")[0] for a in hints.bg_attrs ^ old.bg_attrs}
        imported = [q for _, q in facts.imports]
        touched = any(matches(q, new_names | new_owners) for q in imported)
        if not (new_params or touched):
            self.hints[source.display_path] = hints
            return False
        return True

    def _sweep_reexports(self, hints: Hints, jobs: int) -> None:
        """Byte-test the skipped files again for project-specific aliases of BackgroundTasks."""
        aliases = {n.rpartition(".")[2] for n in hints.bg_names} - {
            b.rpartition(".")[2] for b in BACKGROUND_TASKS
        }
        aliases -= self.swept
        self.swept |= aliases
        if not aliases:
            return
        extra = tuple(a.encode() for a in sorted(aliases))
        found = []
        for source in self.files:
            if source.display_path in self.facts:
                continue
            data = read(source)
            if data is not None and b"import" in data and any(m in data for m in extra):
                found.append(source)
        for facts in analyze_many(found, hints, jobs):
            self.index.add(facts)
            self.hints[facts.display_path] = hints


_KNOWN: frozenset[str] = frozenset()
"""Cache keys of the previous run, in each worker process (set by ``_init``): a worker only
says "unchanged", the facts themselves never travel to it."""


def _init(known: frozenset[str]) -> None:
    global _KNOWN
    _KNOWN = known


def _probe(job: tuple[Path, str, str]) -> tuple[str, FileFacts | None] | None:
    """Byte-test one file and analyse it if it is a candidate (in a worker process).

    ``None`` for a file that cannot contain a use; ``(key, None)`` for an unchanged candidate.
    """
    path, display, module = job
    try:
        data = path.read_bytes()
    except OSError as exc:
        return "", FileFacts(display, module, error=f"cannot read: {exc.strerror}")
    if not is_candidate(data):
        return None
    entry = cache.key(data, display, module)
    return entry, None if entry in _KNOWN else analyze(data, display, module, Hints())


def _probe_all(
    files: list[SourceFile], jobs: int, entries: Entries, progress: Progress | None
) -> Iterator[tuple[str, FileFacts, Hints]]:
    """``(cache key, facts, hints they were analysed with)`` for every candidate file."""
    work = [(s.abs_path, s.display_path, s.module) for s in files]
    results = run_jobs(work, _probe, jobs, 64, init=_init, init_args=(frozenset(entries),))
    for result in results:
        if progress:
            progress(1)
        if result is not None:
            entry, facts = result
            if facts is None:
                yield entry, entries[entry].facts, entries[entry].hints
            else:
                yield entry, facts, Hints()


def build(
    files: list[SourceFile],
    jobs: int,
    progress: Progress | None = None,
    cache_path: Path | None = None,
) -> Project:
    """Probe, settle and follow (the module docstring's stages). With ``cache_path``, unchanged
    files reuse the previous run's settled facts (and are analysed again only when what other
    files say about them changed)."""
    index = FunctionIndex(ModuleIndex(files))
    project = Project(files, index, {})
    entries = cache.load(cache_path) if cache_path else {}
    keys: dict[str, str] = {}
    for entry, facts, hints in _probe_all(files, jobs, entries, progress):
        index.add(facts)
        project.hints[facts.display_path] = hints
        if entry:
            keys[facts.display_path] = entry
    project.settle(jobs)
    project.follow_tasks()
    if cache_path is not None:
        fresh = {k: cache.Entry(project.facts[p], project.hints[p]) for p, k in keys.items()}
        if fresh != entries:
            cache.save(cache_path, fresh)
    project.settle_sites()
    return project


def targets(task: TaskRef) -> tuple[str | None, ...]:
    """The functions a task may run: each run-time candidate, or its one target."""
    return tuple(c.target for c in task.candidates) or (task.target,)


def default_jobs() -> int:
    """All cores."""
    return os.cpu_count() or 1
