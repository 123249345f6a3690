"""BGM109 observed-in-production: runtime statistics show the task outgrew the in-process limit.

With ``scan --evidence STATS.json`` (the file the in-process backend writes at
``BGMIGRATE_STATS_PATH``; several files merge), a task that ran over the in-process budget or
failed is reported with the measured figures: evidence beats guessing from names. A queue
gives it a timeout and retries.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules.base import Effect, RuleSpec, SiteContext

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def log_event(name: str) -> None:
    print(name)

@app.post("/events")
def create(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(log_event, "created")
""",
)
INVALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def render_report(report_id: int) -> None:
    print(report_id)

@app.post("/reports")
def create(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(render_report, 7)
""",
)
EVIDENCE = """{"version": 1, "budget_seconds": 30, "tasks": {
  "main.render_report": {"runs": 40, "over_budget": 3, "failures": {"TimeoutError": 2},
                         "duration": {"count": 40, "sum": 900.0, "max": 95.0,
                                      "buckets": {"10": 37, "60": 3}}},
  "main.log_event": {"runs": 500, "over_budget": 0, "failures": {},
                     "duration": {"count": 500, "sum": 1.0, "max": 0.01, "buckets": {"-40": 500}}}
}}"""
"""The stats file the examples are scanned with."""


def check(ctx: SiteContext) -> Iterator[Finding]:
    """A finding when the task ran over budget or failed in production."""
    stats = ctx.observed
    if stats is None or not (stats.over_budget or stats.failed):
        return
    parts = []
    if stats.over_budget:
        p95 = stats.duration.quantile(0.95)
        parts.append(f"{stats.over_budget} of {stats.runs} runs over budget (p95 {p95:.1f} s)")
    if stats.failed:
        kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(stats.failures.items()))
        parts.append(f"{stats.failed} of {stats.runs} runs failed ({kinds})")
    message = f"measured in-process ({ctx.task_name}): " + "; ".join(parts)
    yield Finding(RULE.code, message, None, (ctx.site_evidence(), *ctx.task_evidence()))


RULE = RuleSpec(
    code="BGM109",
    name="observed-in-production",
    summary="Runtime statistics (--evidence) show the task ran over budget or failed.",
    effect=Effect.MIGRATE,
    check=check,
    valid=VALID,
    invalid=INVALID,
    evidence=EVIDENCE,
)
