"""BGM107 must-stay-in-process: the task's work only makes sense in the web process.

Removing a temporary file after a file response, releasing an in-process lock or semaphore
and updating module-level state that other endpoints read would do nothing useful (or the
wrong thing) on a worker host. Keep the task in-process; ``@task`` is never added to it.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def log(message: str) -> None:
    print(message)

@app.get("/")
def index(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(log, "hi")
""",
)
INVALID = (
    Invalid(
        """
import os
from fastapi import BackgroundTasks, FastAPI
from fastapi.responses import FileResponse

app = FastAPI()

@app.get("/export")
def export(background_tasks: BackgroundTasks) -> FileResponse:
    path = "/tmp/export.csv"
    background_tasks.add_task(os.remove, path)
    return FileResponse(path)
""",
        line=10,
        column=4,
    ),
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
STATS: dict[str, int] = {}

def bump(name: str) -> None:
    STATS[name] = STATS.get(name, 0) + 1

@app.get("/hit")
def hit(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(bump, "hit")
""",
        line=11,
        column=4,
    ),
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """Findings for local cleanup, lock release and writes to module-level state."""
    for traced in ctx.matching(ctx.config.in_process_calls):
        message = f"calls {traced.call.name}(): this must run in the web process"
        yield ctx.call_finding(RULE.code, traced, message)
    for path, write in ctx.state_writes:
        message = f"changes module-level {write.name!r}: in-memory state other requests read"
        evidence = (
            ctx.site_evidence(),
            *ctx.task_evidence(),
            Evidence(path, write.at.line, write.name),
        )
        yield Finding(RULE.code, message, None, evidence)


RULE = RuleSpec(
    name="must-stay-in-process",
    summary="The task cleans up local files, releases an in-process lock or updates memory.",
    effect=Effect.KEEP,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
