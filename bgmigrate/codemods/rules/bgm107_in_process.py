"""BGM107 must-stay-in-process: the task's work only makes sense in the web process.

Releasing an in-process lock or semaphore and updating module-level state that other
endpoints read (registries, caches, progress maps) would do nothing useful, or the wrong
thing, on a worker host. Such a task stays in-process and ``@task`` is never added to it,
unless its work must not be lost (BGM102): then the tie is a blocker, and the state must move
to shared storage (Redis, the database) before the task can move.
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
import threading
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
EXPORTS = threading.Semaphore(2)

@app.post("/export")
def export(background_tasks: BackgroundTasks) -> None:
    EXPORTS.acquire()
    background_tasks.add_task(EXPORTS.release)
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

FIX = "if the task must move, keep this state in shared storage (Redis, the database) first"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """Findings for lock release and writes to module-level state."""
    for traced in ctx.matching(ctx.config.in_process_calls):
        message = f"calls {traced.call.name}(): this must run in the web process"
        yield ctx.call_finding(RULE.code, traced, message, FIX)
    for path, write in ctx.state_writes:
        message = f"changes module-level {write.name!r}: in-memory state other requests read"
        evidence = (
            ctx.site_evidence(),
            *ctx.task_evidence(),
            Evidence(path, write.at.line, write.name),
        )
        yield Finding(RULE.code, message, FIX, (evidence,))


RULE = RuleSpec(
    name="must-stay-in-process",
    summary="The task releases an in-process lock or updates memory other requests read.",
    effect=Effect.KEEP,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
