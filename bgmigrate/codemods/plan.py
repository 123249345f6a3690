"""What the rewrite will change in each file, decided from the audit (no syntax trees here).

- ``BackgroundTasks`` parameters become ``Tasks`` in endpoints and dependencies, and
  ``RequestBatch`` in helpers and services (functions the object is passed to by a direct call,
  or ``Optional`` parameters, which FastAPI cannot inject). When in doubt: ``Tasks``, which
  works in both places.
- ``@task`` goes on module-level functions in the tree whose call sites are all ``migrate``,
  with a timeout and retry policy (:mod:`.long_tasks`).
- ``# bgmigrate: BGMxxx <fix>`` goes above call sites whose findings need a human (blockers
  of a move; at a ``keep-in-process`` site only bugs of today).
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from bgmigrate.codemods.audit import AuditedSite
from bgmigrate.codemods.facts import FileFacts
from bgmigrate.codemods.lint_friendly import DEFAULT_LINE_LENGTH
from bgmigrate.codemods.long_tasks import TaskSettings, proposals
from bgmigrate.codemods.model import Verdict
from bgmigrate.codemods.names import RUNTIME, RUNTIME_NAMES, TASK_DECORATOR, matches
from bgmigrate.codemods.project import Project
from bgmigrate.codemods.rules import RULES
from bgmigrate.codemods.rules.bgm115_argument_type import RULE as ARGUMENT_TYPE
from bgmigrate.codemods.type_fixes import HintEdit, HintPlan, plan_hints, unblocked_verdict


@dataclasses.dataclass
class FilePlan:
    """The edits planned for one file."""

    facts: FileFacts
    params: dict[tuple[str, str], str] = dataclasses.field(default_factory=dict)
    """``(function qualname, parameter)`` -> ``Tasks`` or ``RequestBatch``."""
    decorate: set[str] = dataclasses.field(default_factory=set)
    """Qualnames of module-level functions that get ``@task``."""
    task_settings: dict[str, TaskSettings] = dataclasses.field(default_factory=dict)
    """Qualname -> the options written on its new ``@task``, or on its bare one (measured)."""
    comments: dict[int, list[str]] = dataclasses.field(default_factory=dict)
    """Line of a call site -> ``# bgmigrate:`` comments to put above its statement."""
    hints: dict[tuple[str, str], HintEdit] = dataclasses.field(default_factory=dict)
    """``(function qualname, parameter)`` -> the hint BGM115's fix writes there."""
    keep_imports: bool = False
    """Another file imports BackgroundTasks from this one, or a test names it by string
    (``patch("app.api.BackgroundTasks")``): never remove its import."""
    named_in_tests: bool = False
    """A test names this module's BackgroundTasks by string (its import stays, marked used)."""
    line_length: int = DEFAULT_LINE_LENGTH
    """The project's line length: ``# bgmigrate:`` comments are wrapped to it."""
    qualified: bool = False
    """``Tasks``/``RequestBatch``/``task`` mean something else here: write ``bgmigrate.Tasks``."""

    @property
    def empty(self) -> bool:
        """Nothing to change (class attribute annotations aside)."""
        return not (
            self.params or self.decorate or self.comments or self.task_settings or self.hints
        )


def _helpers(project: Project) -> set[tuple[str, str]]:
    """``(path, qualname)`` of functions the object is handed to by a direct call."""
    found = set()
    for facts in project.facts.values():
        for passed in facts.passes:
            target = project.resolve(passed.callee)
            if target is not None:
                found.add((target[0].display_path, target[1].qualname))
    return found


def _dependencies(project: Project) -> set[str]:
    return {name for facts in project.facts.values() for name in facts.dependencies}


def _decorations(sites: list[AuditedSite], hints: HintPlan) -> dict[str, set[str]]:
    verdicts: dict[tuple[str, str], set[Verdict]] = defaultdict(set)
    for audited in sites:
        if audited.task_key is not None:
            verdicts[audited.task_key].add(unblocked_verdict(audited, hints))
    chosen: dict[str, set[str]] = defaultdict(set)
    for (path, qualname), found in verdicts.items():
        if found == {Verdict.MIGRATE}:
            chosen[path].add(qualname)
    return chosen


def _comments(sites: list[AuditedSite], hints: HintPlan) -> dict[str, dict[int, list[str]]]:
    comments: dict[str, dict[int, list[str]]] = defaultdict(dict)
    for audited in sites:
        report = audited.report
        texts = []
        fixed = (report.path, report.line) in hints.unblocked
        for finding in report.findings:
            if fixed and finding.rule == ARGUMENT_TYPE.code:
                continue  # the rewrite writes the hint
            # A task that stays in-process needs no fix before a move, only a bug of today does.
            needed = report.verdict is not Verdict.KEEP or RULES[finding.rule].bug_today
            text = f"# bgmigrate: {finding.rule} {finding.fix}" if finding.fix and needed else None
            if text and text not in texts:
                texts.append(text)
        if texts:
            comments[report.path][report.line] = texts
    return comments


def _names_taken(facts: FileFacts) -> bool:
    imports = dict(facts.imports)
    return any(
        name in facts.bound_names and imports.get(name) != f"{RUNTIME}.{name}"
        for name in RUNTIME_NAMES
    )


def _reexported(project: Project, facts: FileFacts) -> bool:
    names = {f"{facts.module}.{n}" for n in facts.bg_exports}
    return any(
        matches(qual, names)
        for other in project.facts.values()
        if other.display_path != facts.display_path
        for _, qual in other.imports
    )


def _named_in_tests(facts: FileFacts, named: frozenset[str]) -> bool:
    """A test names this module's BackgroundTasks by string (``patch("app.BackgroundTasks")``)."""
    locals_ = [name for name in facts.bg_local_names if "." not in name]
    return any(matches(f"{facts.module}.{local}", named) for local in locals_)


def plan(
    project: Project,
    sites: list[AuditedSite],
    named_in_tests: frozenset[str] = frozenset(),
    widen_types: bool = False,
) -> dict[str, FilePlan]:
    """Edits for every analysed file, by display path; ``named_in_tests`` are dotted names the
    project's tests give as strings (their imports stay); ``widen_types``: BGM115's fix also
    widens hints that the arguments do not fit."""
    helpers, dependencies = _helpers(project), _dependencies(project)
    hints = plan_hints(project, sites, widen_types)
    decorations, comments = _decorations(sites, hints), _comments(sites, hints)
    proposed = proposals(sites)
    plans = {}
    for path, facts in project.facts.items():
        if facts.error is not None:
            continue
        file_plan = FilePlan(facts, comments=comments.get(path, {}))
        file_plan.hints = hints.edits.get(path, {})
        file_plan.named_in_tests = _named_in_tests(facts, named_in_tests)
        file_plan.keep_imports = file_plan.named_in_tests or _reexported(project, facts)
        file_plan.qualified = _names_taken(facts)
        for function in facts.functions:
            qualified = f"{facts.module}.{function.qualname}".removesuffix(".__init__")
            is_dependency = function.route is not None or matches(qualified, dependencies)
            helper = (path, function.qualname) in helpers and not is_dependency
            for param in function.params:
                if param.annotated and not function.attached:
                    queue = helper or (param.optional and not is_dependency)
                    file_plan.params[(function.qualname, param.name)] = (
                        "RequestBatch" if queue else "Tasks"
                    )
            already = TASK_DECORATOR in function.decorators
            chosen = function.qualname in decorations.get(path, set())
            if chosen and function.module_level and not already:
                file_plan.decorate.add(function.qualname)
            proposal = proposed.get((path, function.qualname))
            if chosen and function.module_level and proposal and (not already or proposal.measured):
                file_plan.task_settings[function.qualname] = proposal
        plans[path] = file_plan
    return plans
