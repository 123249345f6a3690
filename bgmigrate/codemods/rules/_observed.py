"""What the runtime-evidence rules (BGM2xx) share: the example sources and statistics."""

from __future__ import annotations

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Invalid, SiteContext

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
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def render_report(report_id: int) -> None:
    print(report_id)

@app.post("/reports")
def create(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(render_report, 7)
""",
        line=10,
        column=4,
    ),
)
EVIDENCE = """{"version": 1, "budget_seconds": 30, "tasks": {
  "main.render_report": {"runs": 40, "over_budget": 3, "failures": {"TimeoutError": 2},
                         "duration": {"count": 40, "sum": 900.0, "max": 95.0,
                                      "buckets": {"400": 37, "469": 3}},
                         "queue_delay": {"count": 40, "sum": 400.0, "max": 20.0,
                                         "buckets": {"380": 4, "410": 36}}},
  "main.log_event": {"runs": 500, "over_budget": 0, "failures": {},
                     "duration": {"count": 500, "sum": 1.0, "max": 0.01, "buckets": {"1": 500}},
                     "queue_delay": {"count": 500, "sum": 0.5, "max": 0.01, "buckets": {"1": 500}}}
}}"""
"""The statistics file every BGM2xx example is scanned with."""


def observed_finding(ctx: SiteContext, code: str, figures: str) -> Finding:
    """A finding that quotes measured ``figures`` for the call site's task."""
    message = f"measured in-process ({ctx.task_name}): {figures}"
    return Finding(code, message, None, (ctx.site_evidence(), *ctx.task_evidence()))
