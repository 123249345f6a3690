"""BGM106 async-blocking: an ``async def`` task makes blocking calls.

Starlette awaits an async task on the event loop, so a blocking call in it (``time.sleep``,
``requests``, ``subprocess``, the ``blocking-calls`` setting) stalls every request of the
process while it runs. Today's bug; a queue worker fixes it, as would ``def`` instead of
``async def``.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
import asyncio
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

async def later() -> None:
    await asyncio.sleep(1)

@app.post("/later")
async def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(later)
""",
)
INVALID = (
    Invalid(
        """
import time
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

async def later() -> None:
    time.sleep(5)

@app.post("/later")
async def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(later)
""",
        line=11,
        column=4,
    ),
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per blocking call made directly by an async task."""
    if ctx.task is None or not ctx.task.is_async:
        return
    for traced in ctx.matching(ctx.config.blocking_calls):
        if traced.via:
            continue
        message = f"async task calls blocking {traced.call.name}(): it blocks the event loop"
        yield ctx.call_finding(RULE.code, traced, message)


RULE = RuleSpec(
    name="async-blocking",
    summary="An async task makes blocking calls and stalls the event loop today.",
    effect=Effect.MIGRATE,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
