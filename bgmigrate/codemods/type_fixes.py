"""The mechanical fixes of BGM115 (argument-type) that ``rewrite`` makes, and how it makes them.

- A parameter without a hint gets the static type its call sites pass (``individual_document:
  ExtensionDocumentContent | str``), with the imports that spelling needs.
- A hint the arguments do not fit (``user_id: int`` given a ``UUID``) is widened to the types
  they are, only with ``rewrite --widen-types``: a hint is the author's word, and what the task
  does with the value is for the author to check.

Only for call sites that move (not ``keep-in-process``), and only when every call site of the
task gives that parameter an argument of a known type; else the finding stays, as a
``# bgmigrate: BGM115`` comment. A call site whose only blockers are fixed this way is
rewritten as ``migrate``.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Iterable

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from bgmigrate.codemods.argument_types import Mismatch, imports, mismatches, receivers
from bgmigrate.codemods.audit import AuditedSite, verdict
from bgmigrate.codemods.facts import FileFacts, FunctionFacts
from bgmigrate.codemods.model import Verdict
from bgmigrate.codemods.project import Project
from bgmigrate.codemods.rules.bgm115_argument_type import RULE
from bgmigrate.codemods.type_check import Member, TypeTable, Union, accepts, spell

ParamKey = tuple[str, str, str]
"""``(task file's display path, task qualname, parameter)``."""


@dataclasses.dataclass(frozen=True)
class HintEdit:
    """A parameter annotation the rewrite writes."""

    annotation: str
    imports: tuple[tuple[str, str], ...]
    """``(module, name)`` pairs, or ``(module, "")`` for ``import module``."""


@dataclasses.dataclass
class HintPlan:
    """Every hint the rewrite writes, and the call sites it unblocks."""

    edits: dict[str, dict[tuple[str, str], HintEdit]] = dataclasses.field(default_factory=dict)
    """Display path -> ``(qualname, parameter)`` -> edit."""
    unblocked: set[tuple[str, int]] = dataclasses.field(default_factory=set)
    """``(path, line)`` of call sites whose BGM115 findings the edits fix."""


def plan_hints(project: Project, sites: list[AuditedSite], widen: bool) -> HintPlan:
    """The hints to write for ``sites`` (``widen``: also change hints the arguments miss)."""
    table = TypeTable(project.index)
    given: dict[ParamKey, list[Union | None]] = defaultdict(list)
    refused: dict[ParamKey, list[Mismatch]] = defaultdict(list)
    by_site: dict[tuple[str, int], list[ParamKey]] = {}
    for audited in sites:
        task = _task(project, audited)
        if task is None or audited.task_key is None:
            continue
        path, qualname = audited.task_key
        for argument, param in receivers(audited.site, task):
            given[(path, qualname, param.name)].append(table.resolve(argument.static_type))
        # A task that stays in the process needs no fix for a move.
        moving = audited.report.verdict is not Verdict.KEEP
        found = list(mismatches(table, audited.site, task)) if moving else []
        for mismatch in found:
            refused[(path, qualname, mismatch.param.name)].append(mismatch)
        site_key = (audited.report.path, audited.report.line)
        by_site[site_key] = [(path, qualname, m.param.name) for m in found]
    plan = HintPlan()
    for key, found in refused.items():
        edit = _edit(table, project, key, found[0], given[key], widen)
        if edit is not None:
            plan.edits.setdefault(key[0], {})[(key[1], key[2])] = edit
    for site_key, keys in by_site.items():
        if keys and all(k[1:] in plan.edits.get(k[0], {}) for k in keys):
            plan.unblocked.add(site_key)
    return plan


def _task(project: Project, audited: AuditedSite) -> FunctionFacts | None:
    target = audited.site.task.target
    found = project.resolve(target) if target else None
    return found[1] if found else None


def _edit(
    table: TypeTable,
    project: Project,
    key: ParamKey,
    mismatch: Mismatch,
    given: list[Union | None],
    widen: bool,
) -> HintEdit | None:
    """The new hint of one parameter, when every call site's argument type is known."""
    if any(union is None for union in given) or (mismatch.annotated and not widen):
        return None
    members = list(dict.fromkeys(m for union in given if union for m in union))
    hint = mismatch.hint
    if hint is not None:
        kept = [h for h in hint if any(accepts(table, (h,), m) for m in members)]
        members = kept + [m for m in members if accepts(table, hint, m) is not True]
    facts = project.facts.get(key[0])
    if facts is None:
        return None
    return _spelled(tuple(dict.fromkeys(members)), facts)


def _spelled(union: Union, facts: FileFacts) -> HintEdit:
    """``union`` as an annotation in the module of ``facts``: by its short names, imported
    where needed, or qualified where a short name means something else there."""
    bound = dict(facts.imports)
    needed: list[tuple[str, str]] = []
    clash = False
    for module, name in imports(union):
        here = module == facts.module and name in facts.bound_names
        if here or bound.get(name) == f"{module}.{name}":
            continue
        clash = clash or name in facts.bound_names
        needed.append((module, name))
    if not clash:
        return HintEdit(spell(union), tuple(dict.fromkeys(needed)))
    text = " | ".join(_qualified(m) for m in union)
    return HintEdit(text, tuple(dict.fromkeys((module, "") for module, _ in needed)))


def _qualified(member: Member) -> str:
    name = member.name.removeprefix("builtins.")
    args = ", ".join(_qualified(a) for a in member.args)
    return f"{name}[{args}]" if args else name


def unblocked_verdict(audited: AuditedSite, plan: HintPlan) -> Verdict:
    """The site's verdict once the planned hints are written."""
    report = audited.report
    if (report.path, report.line) not in plan.unblocked:
        return report.verdict
    if report.verdict is not Verdict.MIGRATE_AFTER_FIX:
        return report.verdict
    return verdict(audited.site, tuple(f for f in report.findings if f.rule != RULE.code))


class _AddHints(cst.CSTTransformer):
    """Annotates the planned parameters of module-level functions and methods."""

    def __init__(self, edits: dict[tuple[str, str], HintEdit]) -> None:
        self.edits = edits
        self.scope: list[str] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope.append(node.name.value)

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.scope.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scope.append(node.name.value)

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        qualname = ".".join(self.scope)
        self.scope.pop()
        params = updated.params
        changed = [
            self._param(qualname, p)
            for p in (*params.posonly_params, *params.params, *params.kwonly_params)
        ]
        count, posonly = len(params.params), len(params.posonly_params)
        return updated.with_changes(
            params=params.with_changes(
                posonly_params=changed[:posonly],
                params=changed[posonly : posonly + count],
                kwonly_params=changed[posonly + count :],
            )
        )

    def _param(self, qualname: str, param: cst.Param) -> cst.Param:
        edit = self.edits.get((qualname, param.name.value))
        if edit is None:
            return param
        return param.with_changes(annotation=cst.Annotation(cst.parse_expression(edit.annotation)))


def add_hints(
    module: cst.Module, edits: dict[tuple[str, str], HintEdit], context: CodemodContext
) -> cst.Module:
    """``module`` with the planned hints written; their imports are registered in
    ``context`` (``AddImportsVisitor``), for the rewrite to add with its own."""
    if not edits:
        return module
    _register(context, (i for edit in edits.values() for i in edit.imports))
    return module.visit(_AddHints(edits))


def _register(context: CodemodContext, needed: Iterable[tuple[str, str]]) -> None:
    for module, name in needed:
        AddImportsVisitor.add_needed_import(context, module, name or None)
