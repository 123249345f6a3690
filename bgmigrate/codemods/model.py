"""The result of a scan: call sites with findings and verdicts, other uses, errors.

``ScanReport.to_json`` is the public ``--format json`` contract: the JSON Schema
``docs/schema/scan-report.schema.json`` (``SCHEMA_URL``), which the tests validate every report
against.
"""

from __future__ import annotations

import dataclasses
from enum import StrEnum
from typing import Any

from bgmigrate.stats import TaskStats

SCHEMA_URL = "https://github.com/bgmigrate/bgmigrate/blob/main/docs/schema/scan-report.schema.json"
"""The ``$id`` of the report's JSON Schema; every report names it in its ``$schema`` field."""


class Verdict(StrEnum):
    """What to do with one call site."""

    KEEP = "keep-in-process"
    MIGRATE = "migrate"
    MIGRATE_AFTER_FIX = "migrate-after-fix"
    MANUAL = "manual"


@dataclasses.dataclass(frozen=True)
class Evidence:
    """One step of a finding's chain: call site -> task definition -> triggering line."""

    path: str
    line: int
    what: str


@dataclasses.dataclass(frozen=True)
class Finding:
    """One rule's finding at one call site."""

    rule: str
    message: str
    fix: str | None = None
    """What a human must do before the task can move, when something must be done."""
    evidence: tuple[Evidence, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """JSON form (``rule``, ``message``, ``fix``, ``evidence``)."""
        return {
            "rule": self.rule,
            "message": self.message,
            "fix": self.fix,
            "evidence": [dataclasses.asdict(e) for e in self.evidence],
        }


@dataclasses.dataclass(frozen=True)
class Observed:
    """A task's runtime figures from ``scan --evidence`` (seconds; quantiles within 2%)."""

    task: str
    """The task name the statistics were recorded under."""
    runs: int
    failed: int
    over_budget: int
    duration_p50: float
    duration_p95: float
    duration_max: float
    queue_delay_p95: float

    @classmethod
    def from_stats(cls, task: str, stats: TaskStats) -> Observed:
        """The figures reported for ``stats``."""
        return cls(
            task=task,
            runs=stats.runs,
            failed=stats.failed,
            over_budget=stats.over_budget,
            duration_p50=stats.duration.quantile(0.5),
            duration_p95=stats.duration.quantile(0.95),
            duration_max=stats.duration.maximum,
            queue_delay_p95=stats.queue_delay.quantile(0.95),
        )

    def summary(self) -> str:
        """One line for the text report."""
        return (
            f"{self.runs} runs, p50 {self.duration_p50:.3g} s, p95 {self.duration_p95:.3g} s, "
            f"max {self.duration_max:.3g} s; {self.over_budget} over budget; {self.failed} "
            f"failed; waited p95 {self.queue_delay_p95:.3g} s"
        )


@dataclasses.dataclass(frozen=True)
class CallSiteReport:
    """One ``add_task`` call on a BackgroundTasks object."""

    path: str
    line: int
    column: int
    endpoint: str | None
    function: str
    task: str | None
    task_path: str | None
    task_line: int | None
    task_is_async: bool | None
    callable_kind: str
    verdict: Verdict
    findings: tuple[Finding, ...]
    registered: bool = False
    """The task already carries ``@task`` (it is migrated, whatever the verdict says)."""
    observed: Observed | None = None
    """Runtime figures of the task (``--evidence``), when there are any."""
    candidates: tuple[str, ...] = ()
    """The callables a task chosen at run time may be (each was audited; the verdict is the
    most demanding), empty for a single callable."""
    unresolved: str | None = None
    """Why the task (or a candidate) could not be followed, when the verdict is ``manual``
    for that reason."""

    def to_json(self) -> dict[str, Any]:
        """JSON form (``call_site`` in the report's schema, ``SCHEMA_URL``)."""
        data = dataclasses.asdict(self)
        data["verdict"] = self.verdict.value
        data["findings"] = [f.to_json() for f in self.findings]
        return data


@dataclasses.dataclass(frozen=True)
class OtherUseReport:
    """A hand-built or response-attached use, for manual review."""

    path: str
    line: int
    column: int
    kind: str
    message: str


@dataclasses.dataclass(frozen=True)
class ErrorReport:
    """A file that could not be read or parsed (it was skipped)."""

    path: str
    message: str
    line: int | None = None


@dataclasses.dataclass(frozen=True)
class UnusedSuppression:
    """A ``# bgmigrate: ignore[...]`` comment that suppressed nothing."""

    path: str
    line: int
    codes: tuple[str, ...]


@dataclasses.dataclass
class ScanReport:
    """Everything one ``scan`` found."""

    files_scanned: int = 0
    files_parsed: int = 0
    call_sites: list[CallSiteReport] = dataclasses.field(default_factory=list)
    other_uses: list[OtherUseReport] = dataclasses.field(default_factory=list)
    errors: list[ErrorReport] = dataclasses.field(default_factory=list)
    unused_suppressions: list[UnusedSuppression] = dataclasses.field(default_factory=list)
    unmatched_evidence: list[Observed] = dataclasses.field(default_factory=list)
    """Tasks in the ``--evidence`` files that no call site of the scanned tree runs."""

    def sort(self) -> None:
        """Order every list by path and line, so output is stable across runs."""
        self.call_sites.sort(key=lambda c: (c.path, c.line, c.column))
        self.other_uses.sort(key=lambda o: (o.path, o.line, o.column))
        self.errors.sort(key=lambda e: e.path)
        self.unused_suppressions.sort(key=lambda u: (u.path, u.line))
        self.unmatched_evidence.sort(key=lambda o: o.task)

    @property
    def finding_count(self) -> int:
        """Findings, other uses and unused suppressions: what makes ``scan`` exit 1."""
        findings = sum(len(c.findings) for c in self.call_sites)
        return findings + len(self.other_uses) + len(self.unused_suppressions)

    def exit_code(self) -> int:
        """2 when a file could not be analysed, 1 with findings, else 0."""
        if self.errors:
            return 2
        return 1 if self.finding_count else 0

    def to_json(self) -> dict[str, Any]:
        """The ``--format json`` document (version 1), valid against ``SCHEMA_URL``."""
        return {
            "$schema": SCHEMA_URL,
            "version": 1,
            "files_scanned": self.files_scanned,
            "files_parsed": self.files_parsed,
            "call_sites": [c.to_json() for c in self.call_sites],
            "other_uses": [dataclasses.asdict(o) for o in self.other_uses],
            "errors": [dataclasses.asdict(e) for e in self.errors],
            "unused_suppressions": [dataclasses.asdict(u) for u in self.unused_suppressions],
            "unmatched_evidence": [dataclasses.asdict(o) for o in self.unmatched_evidence],
        }
