"""The audit: every call site resolved to its task, checked by the rules, given a verdict.

Suppression comments (``# bgmigrate: ignore[BGM101]``) on the call site's line or on the line
that triggered a finding silence it; comments that silence nothing are reported.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping

from bgmigrate.codemods.facts import (
    Call,
    CallableKind,
    FileFacts,
    FunctionFacts,
    RawCallSite,
    TaskRef,
)
from bgmigrate.codemods.model import (
    CallSiteReport,
    ErrorReport,
    Finding,
    Observed,
    OtherUseReport,
    ScanReport,
    UnusedSuppression,
    Verdict,
    merge,
)
from bgmigrate.codemods.names import TASK_DECORATOR, matches
from bgmigrate.codemods.project import Project
from bgmigrate.codemods.pyproject import CodemodConfig
from bgmigrate.codemods.routes import Mounts
from bgmigrate.codemods.rules import RULES, Effect, SiteContext, TracedCall, selected
from bgmigrate.codemods.rules.bgm199_unused_suppression import RULE as UNUSED_SUPPRESSION
from bgmigrate.codemods.summaries import FunctionKey
from bgmigrate.codemods.type_check import TypeTable
from bgmigrate.stats import TaskStats


@dataclasses.dataclass(frozen=True)
class AuditedSite:
    """A call site's report plus what the rewrite needs to know about its task."""

    report: CallSiteReport
    site: RawCallSite
    task_key: tuple[str, str] | None
    """``(task file's display path, qualname)`` when the task is defined in the tree and the
    rewrite may decorate it (never for hand-built sites and run-time choices)."""


def _callers(project: Project) -> dict[FunctionKey, set[FunctionKey]]:
    """Who hands the BackgroundTasks object to whom (callee -> callers), and which functions
    declare which dependencies (dependency -> dependants)."""
    callers: dict[FunctionKey, set[FunctionKey]] = {}
    for facts in list(project.facts.values()):
        edges = [(p.callee, p.caller) for p in facts.passes]
        edges += [(d, f.qualname) for f in facts.functions for d in f.depends]
        for callee, caller in edges:
            target = project.resolve(callee)
            if target is not None:
                key = (target[0].display_path, target[1].qualname)
                callers.setdefault(key, set()).add((facts.display_path, caller))
    return callers


def _foreign_decorators(project: Project, task: FunctionFacts) -> tuple[tuple[str, str], ...]:
    """``task``'s decorators other than bgmigrate's ``@task`` and the tree's own functions, each
    as resolved and as written."""
    return tuple(
        (name, written)
        for name, written in zip(task.decorators, task.written_decorators, strict=True)
        if name != TASK_DECORATOR and project.resolve(name) is None
    )


class Auditor:
    """Runs the rules over a settled ``Project``."""

    def __init__(
        self, project: Project, config: CodemodConfig, evidence: Mapping[str, TaskStats]
    ) -> None:
        self.project = project
        self.config = config
        self.evidence = evidence
        self.matched: set[str] = set()
        self._used: set[tuple[str, int, str]] = set()
        self._callers = _callers(project)
        mounts = Mounts(m for facts in project.facts.values() for m in facts.includes)
        self.types = TypeTable(project.index)
        self._routes = {
            (facts.display_path, f.qualname): mounts.labels(f.route, f.router)
            for facts in project.facts.values()
            for f in facts.functions
            if f.route
        }

    def _predecessors(self, key: FunctionKey) -> set[FunctionKey]:
        """Functions that hand ``key`` the object; for a method, also its class's constructor
        (the object reaches methods through ``self``)."""
        found = set(self._callers.get(key, ()))
        owner, _, name = key[1].rpartition(".")
        if owner and "<locals>" not in owner and name != "__init__":
            found.add((key[0], f"{owner}.__init__"))
        return found

    def endpoints(self, start: FunctionKey) -> str | None:
        """The route of ``start``, or of the endpoints that pass it the object (``, ``-joined)."""
        seen, frontier, found = {start}, [start], list[str]()
        while frontier:
            key = frontier.pop(0)
            routes = self._routes.get(key)
            if routes:
                found.extend(routes)
                continue
            for caller in sorted(self._predecessors(key)):
                if caller not in seen:
                    seen.add(caller)
                    frontier.append(caller)
        return ", ".join(sorted(set(found))) or None

    def context(
        self, facts: FileFacts, site: RawCallSite
    ) -> tuple[SiteContext, tuple[str, str] | None]:
        """Everything the rules need about ``site``."""
        target = site.task.target
        found = self.project.resolve(target) if target else None
        name = f"{found[0].module}.{found[1].qualname}".lstrip(".") if found else target
        endpoint = next((f for f in facts.functions if f.qualname == site.function), None)
        ctx = SiteContext(
            path=facts.display_path,
            site=site,
            endpoint=endpoint,
            task=found[1] if found else None,
            task_name=name,
            task_path=found[0].display_path if found else None,
            calls=self._task_calls(facts, site, found),
            state_writes=tuple((found[0].display_path, w) for w in found[1].state_writes)
            if found
            else (),
            loops=tuple(TracedCall(loop, found[0].display_path, ()) for loop in found[1].loops)
            if found
            else (),
            async_targets=frozenset(
                n
                for n in site.task.lambda_calls
                if (r := self.project.resolve(n)) and r[1].is_async
            ),
            config=self.config,
            library=found is None
            and target is not None
            and self.project.index.modules.split(target) is None,
            observed=self._observed(name),
            dependencies=self._dependencies(endpoint),
            types=self.types,
            foreign_decorators=_foreign_decorators(self.project, found[1]) if found else (),
        )
        return ctx, (found[0].display_path, found[1].qualname) if found else None

    def _task_calls(
        self, facts: FileFacts, site: RawCallSite, found: tuple[FileFacts, FunctionFacts] | None
    ) -> tuple[TracedCall, ...]:
        """The task's calls, traced into the project; a library callable (a function, or a
        method of a library object such as ``LOCK.release``) stands for itself."""
        if found is not None:
            return self.project.summaries.of(*found)
        if site.task.target is not None and site.task.kind in _NAMED:
            return (TracedCall(Call(site.task.target, site.at), facts.display_path, ()),)
        return ()

    def _dependencies(
        self, endpoint: FunctionFacts | None
    ) -> tuple[tuple[str, FunctionFacts], ...]:
        """The dependencies ``endpoint`` declares that are defined in the scanned tree."""
        found = (self.project.resolve(name) for name in endpoint.depends) if endpoint else ()
        return tuple((facts.display_path, function) for facts, function in filter(None, found))

    def _observed_name(self, task_name: str | None) -> str | None:
        """The evidence entry recorded for ``task_name`` (module prefixes may differ)."""
        if not task_name or not self.evidence:
            return None
        return next((n for n in self.evidence if matches(n, (task_name,))), None)

    def _observed(self, task_name: str | None) -> TaskStats | None:
        name = self._observed_name(task_name)
        if name is None:
            return None
        self.matched.add(name)
        return self.evidence[name]

    def unmatched(self) -> Iterator[Observed]:
        """Evidence for tasks that no call site of the scanned tree runs (listed, not dropped)."""
        for name, stats in self.evidence.items():
            if name not in self.matched:
                yield Observed.from_stats(name, stats)

    def _suppressed(self, ctx: SiteContext, finding: Finding) -> bool:
        lines = {(e.path, e.line) for chain in finding.evidence for e in chain}
        lines.add((ctx.path, ctx.site.at.line))
        hit = False
        for path, line in lines:
            facts = self.project.facts.get(path)
            codes = dict(facts.suppressions).get(line, ()) if facts else ()
            if finding.rule in codes:
                self._used.add((path, line, finding.rule))
                hit = True
        return hit

    def findings(self, ctx: SiteContext) -> tuple[Finding, ...]:
        """Selected, unsuppressed findings of every rule, in rule order."""
        found: list[Finding] = []
        for code, spec in RULES.items():
            if not selected(code, self.config.select, self.config.ignore):
                continue
            found.extend(f for f in spec.check(ctx) if not self._suppressed(ctx, f))
        return merge(tuple(found))

    def _unresolved(self, ctx: SiteContext) -> str | None:
        """Why the task cannot be followed although it names something of the scanned tree."""
        target = ctx.site.task.target
        if target is None or ctx.task is not None or not self.project.index.in_project(target):
            return None
        return f"{ctx.site.task.text} names {target}, which is not a function found in the tree"

    def _candidates(
        self, facts: FileFacts, site: RawCallSite, ctx: SiteContext
    ) -> tuple[tuple[Finding, ...], Verdict, str | None]:
        """Findings, verdict and unresolved reason over every callable the site may run: the
        most demanding verdict wins, an unresolvable candidate makes the site ``manual``."""
        findings = self.findings(ctx)
        decided, unresolved = verdict(site, findings), self._unresolved(ctx)
        for candidate in site.task.candidates:
            # Evidence starts at the site as written, whichever candidate it leads to.
            task = TaskRef(candidate.kind, candidate.target, site.task.text)
            other = dataclasses.replace(site, task=task)
            other_ctx, _ = self.context(facts, other)
            found = self.findings(other_ctx)
            findings = merge(findings + found)
            decided = max(decided, verdict(other, found), key=_DEMAND.index)
            unresolved = unresolved or self._unresolved(other_ctx)
            if candidate.target is None:
                unresolved = unresolved or f"{candidate.text} is not known statically"
        return findings, Verdict.MANUAL if unresolved else decided, unresolved

    def audit_site(self, facts: FileFacts, site: RawCallSite) -> AuditedSite:
        """Report one call site with its findings and verdict."""
        ctx, key = self.context(facts, site)
        observed_name = self._observed_name(ctx.task_name)
        findings, decided, unresolved = self._candidates(facts, site, ctx)
        endpoint = self.endpoints((facts.display_path, site.function))
        report = CallSiteReport(
            path=facts.display_path,
            line=site.at.line,
            column=site.at.column,
            endpoint=endpoint,
            function=site.function,
            task=ctx.task_name,
            task_path=ctx.task_path,
            task_line=ctx.task.at.line if ctx.task else None,
            task_is_async=ctx.task.is_async if ctx.task else None,
            callable_kind=site.task.kind.value,
            verdict=decided,
            findings=findings,
            registered=ctx.task is not None and TASK_DECORATOR in ctx.task.decorators,
            observed=(
                Observed.from_stats(observed_name, ctx.observed)
                if ctx.observed is not None and observed_name is not None
                else None
            ),
            candidates=tuple(c.target or c.text for c in site.task.candidates),
            unresolved=unresolved,
        )
        # Hand-built sites and run-time choices are left to a human: nothing is decorated.
        rewritten = not (site.hand_built or site.task.candidates)
        return AuditedSite(report, site, key if rewritten else None)

    def unused(self) -> Iterator[UnusedSuppression]:
        """Suppression comments that silenced nothing (when BGM199 is selected)."""
        if not selected(UNUSED_SUPPRESSION.code, self.config.select, self.config.ignore):
            return
        for facts in self.project.facts.values():
            for line, codes in facts.suppressions:
                unused = tuple(c for c in codes if (facts.display_path, line, c) not in self._used)
                if unused:
                    yield UnusedSuppression(facts.display_path, line, unused)


_NAMED = frozenset({CallableKind.FUNCTION, CallableKind.BOUND_METHOD})
"""Kinds of callable whose target names the call the task makes."""


_DEMAND = (Verdict.KEEP, Verdict.MIGRATE, Verdict.MIGRATE_AFTER_FIX, Verdict.MANUAL)
"""Verdicts from the least to the most demanding (of a site's run-time candidates)."""


def verdict(site: RawCallSite, findings: tuple[Finding, ...]) -> Verdict:
    """keep-in-process / migrate / migrate-after-fix / manual, from the findings' effects.

    In order: an unknown callable is ``manual``; with no reason to move (no ``migrate`` or
    ``persist`` finding) the task stays; a process tie (``keep``) keeps it unless its work must
    not be lost (``persist``), when the tie becomes a blocker; any blocker (``fix``, or an
    outweighed tie) makes ``migrate-after-fix``; else ``migrate``.
    """
    if site.task.target is None:
        return Verdict.MANUAL
    effects = {RULES[f.rule].effect for f in findings}
    if not effects & {Effect.MIGRATE, Effect.PERSIST}:
        return Verdict.KEEP
    if Effect.KEEP in effects and Effect.PERSIST not in effects:
        return Verdict.KEEP
    if effects & {Effect.FIX, Effect.KEEP}:
        return Verdict.MIGRATE_AFTER_FIX
    return Verdict.MIGRATE


def run_audit(
    project: Project, config: CodemodConfig, evidence: Mapping[str, TaskStats] | None = None
) -> tuple[ScanReport, list[AuditedSite]]:
    """Audit every call site of a settled project (with runtime ``evidence`` when given)."""
    auditor = Auditor(project, config, evidence or {})
    report = ScanReport(files_scanned=len(project.files))
    sites: list[AuditedSite] = []
    for facts in list(project.facts.values()):
        if facts.error is not None:
            report.errors.append(ErrorReport(facts.display_path, facts.error))
            continue
        for site in facts.call_sites:
            audited = auditor.audit_site(facts, site)
            sites.append(audited)
            report.call_sites.append(audited.report)
        report.other_uses.extend(
            OtherUseReport(facts.display_path, o.at.line, o.at.column, o.kind, o.message)
            for o in facts.other_uses
        )
    report.unused_suppressions.extend(auditor.unused())
    report.unmatched_evidence.extend(auditor.unmatched())
    report.files_parsed = len(project.facts)
    report.sort()
    return report, sites
