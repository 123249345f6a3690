"""BGM104 mutated-after-add-task: an argument is changed after ``add_task`` in the same function.

In-process, the task sees the object as it is when the task runs (after the response), so a
change made after ``add_task`` reaches it. Once serialized at enqueue time it no longer does:
behaviour changes silently. Pass a copy, or finish the changes before ``add_task``.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def report(rows: list[int]) -> None:
    print(rows)

@app.post("/report")
def make(background_tasks: BackgroundTasks) -> None:
    rows = [1, 2]
    rows.append(3)
    background_tasks.add_task(report, rows)
""",
)
INVALID = (
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def report(rows: list[int]) -> None:
    print(rows)

@app.post("/report")
def make(background_tasks: BackgroundTasks) -> None:
    rows = [1, 2]
    background_tasks.add_task(report, rows)
    rows.append(3)
""",
        line=11,
        column=4,
    ),
)
FIX = "pass a copy, or make every change before add_task"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per argument changed after the call."""
    for argument in ctx.site.arguments:
        if argument.mutated_at is None:
            continue
        line = argument.mutated_at.line
        message = f"{argument.text!r} is changed on line {line}, after add_task: {FIX}"
        evidence = (ctx.site_evidence(), Evidence(ctx.path, line, f"{argument.text} changed"))
        yield Finding(RULE.code, message, FIX, evidence)


RULE = RuleSpec(
    name="mutated-after-add-task",
    summary="An argument is changed after add_task; a serialized copy would not see the change.",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
