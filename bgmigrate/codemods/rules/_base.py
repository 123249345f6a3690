"""What every audit rule module provides, and the context a rule sees for one call site.

A rule's code is written once, in its module's name (``bgm102_must_not_lose.py`` is BGM102).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import textwrap
from collections.abc import Callable, Iterator
from enum import StrEnum

from bgmigrate.codemods.facts import Call, FunctionFacts, RawCallSite, StateWrite
from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.pyproject import CodemodConfig
from bgmigrate.codemods.type_check import TypeTable
from bgmigrate.stats import TaskStats


@dataclasses.dataclass(frozen=True)
class TracedCall:
    """A call made by the task, directly or through project functions it calls."""

    call: Call
    path: str
    via: tuple[str, ...]
    """Functions between the task and this call, outermost first (empty: the task itself)."""
    repeated: bool = False
    """The call runs once per item of a ``for`` loop or comprehension: its own, or one around
    a call on the way from the task."""


@dataclasses.dataclass(frozen=True)
class SiteContext:
    """Everything known about one call site, resolved across the project."""

    path: str
    site: RawCallSite
    endpoint: FunctionFacts | None
    """The function containing the call."""
    task: FunctionFacts | None
    """The task's definition, when it is in the scanned tree."""
    task_name: str | None
    task_path: str | None
    calls: tuple[TracedCall, ...]
    """Calls the task makes (the callable itself when it is a library function)."""
    state_writes: tuple[tuple[str, StateWrite], ...]
    loops: tuple[TracedCall, ...]
    """The task's own loops over call results (and ``while True``)."""
    async_targets: frozenset[str]
    """Callees of a lambda task that are ``async def`` functions."""
    config: CodemodConfig
    library: bool = False
    """The callable is a function of a library, not of the scanned tree (``requests.post``)."""
    observed: TaskStats | None = None
    """Runtime statistics of the task (``scan --evidence``), when there are any."""
    dependencies: tuple[tuple[str, FunctionFacts], ...] = ()
    """The endpoint's dependencies defined in the scanned tree, each with its file."""
    types: TypeTable | None = None
    """The project's classes and type aliases, for static argument types."""
    foreign_decorators: tuple[tuple[str, str], ...] = ()
    """The task's decorators that are neither bgmigrate's ``@task`` nor functions of the scanned
    tree: ``(resolved name, as written)``, ``("app.worker.celery_app.task", "celery_app.task")``."""

    @property
    def best_effort(self) -> bool:
        """The task swallows every error and only logs it: it is allowed to fail."""
        return self.task is not None and self.task.best_effort is not None

    def site_evidence(self) -> Evidence:
        """The call site as the first step of an evidence chain."""
        return Evidence(self.path, self.site.at.line, f"add_task({self.site.task.text}, ...)")

    def task_evidence(self) -> tuple[Evidence, ...]:
        """The task definition step, when it is known."""
        if self.task is None or self.task_path is None:
            return ()
        return (Evidence(self.task_path, self.task.at.line, f"def {self.task_name}"),)

    def matching(
        self, patterns: tuple[str, ...], among: tuple[TracedCall, ...] | None = None
    ) -> Iterator[TracedCall]:
        """Calls of the task (or ``among``) whose callee matches one of ``patterns`` (fnmatch)."""
        for traced in self.calls if among is None else among:
            if any(fnmatch.fnmatchcase(traced.call.name, p) for p in patterns):
                yield traced

    def call_finding(
        self, rule: str, traced: TracedCall, message: str, fix: str | None = None
    ) -> Finding:
        """A finding whose evidence ends at the call that triggered it."""
        via = f" (via {' -> '.join(traced.via)})" if traced.via else ""
        trigger = Evidence(traced.path, traced.call.at.line, f"{traced.call.label}(){via}")
        chain = (self.site_evidence(), *self.task_evidence(), trigger)
        return Finding(rule, message, fix, (chain,))


class Effect(StrEnum):
    """How a rule's finding weighs on the verdict."""

    MIGRATE = "migrate"
    """The task has outgrown "short and allowed to fail": move it to a queue."""
    PERSIST = "persist"
    """The task's work must not be lost: move it, even when it is tied to the web process
    (the tie becomes a blocker to fix)."""
    KEEP = "keep"
    """The task is tied to the web process: it stays, unless work that must not be lost
    outweighs the tie."""
    FIX = "fix"
    """A blocker: a human must fix something before the task can move."""
    INFO = "info"
    """Reported, without changing the verdict."""


Check = Callable[[SiteContext], Iterator[Finding]]


def example_source(example: str) -> str:
    """The file an example stands for, as scanned by the tests and shown in ``docs/rules.md``
    (its line numbers are the ones ``Invalid`` pins)."""
    return textwrap.dedent(example).strip() + "\n"


@dataclasses.dataclass(frozen=True)
class Invalid:
    """Code that must trigger the rule, and where the finding is reported."""

    source: str
    line: int
    """1-based line of the reported location (the ``add_task`` call for call-site findings)."""
    column: int
    """0-based column, in characters, as the JSON report gives it."""


@dataclasses.dataclass(frozen=True)
class RuleSpec:
    """One audit rule: its name, summary, examples and check (its code comes from its module)."""

    name: str
    summary: str
    """One line: what the rule reports."""
    effect: Effect
    """How a finding of this rule weighs on the call site's verdict."""
    check: Check
    valid: tuple[str, ...]
    """Code that must not trigger the rule."""
    invalid: tuple[Invalid, ...]
    """Code that must trigger it, each with the location of (one of) its findings."""
    evidence: str = ""
    """A runtime stats file (JSON) the examples are scanned with, when the rule needs one."""
    bug_today: bool = False
    """A finding is a bug in the code as it runs today: it needs action whatever the verdict
    (``scan`` exits 1 on it even at a ``keep-in-process`` site, and SARIF says warning)."""

    @property
    def code(self) -> str:
        """The stable ``BGMxxx`` code: the prefix of the name of the module defining ``check``."""
        module = self.check.__module__.rpartition(".")[2]
        return module.partition("_")[0].upper()
