"""BGM112 fire-and-forget: the task spawns asyncio tasks and does not wait for them.

In the web process a task started with ``asyncio.create_task(...)`` and dropped keeps running
on the server's event loop after the background task returns. A queue worker considers the
job done when the task function returns and may close its loop, cancelling the spawned work,
and nobody retries it. Await the work inside the task (``await asyncio.gather(...)``) before
it moves.
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

async def ingest(doc_id: int) -> None:
    await asyncio.sleep(0)

async def ingest_all(doc_ids: list[int]) -> None:
    await asyncio.gather(*(ingest(d) for d in doc_ids))

@app.post("/documents")
async def upload(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(ingest_all, [1, 2])
""",
)
INVALID = (
    Invalid(
        """
import asyncio
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

async def ingest(doc_id: int) -> None:
    await asyncio.sleep(0)

async def ingest_all(doc_ids: list[int]) -> None:
    for doc_id in doc_ids:
        asyncio.create_task(ingest(doc_id))

@app.post("/documents")
async def upload(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(ingest_all, [1, 2])
""",
        line=15,
        column=4,
    ),
)
SPAWNS = ("asyncio.create_task", "asyncio.ensure_future", "asyncio.*loop.create_task")
FIX = "await the spawned work inside the task (asyncio.gather) instead of dropping it"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per spawned asyncio task whose handle is dropped."""
    for traced in ctx.matching(SPAWNS):
        if traced.call.discarded:
            message = f"calls {traced.call.label}() and drops the task: a worker would lose it"
            yield ctx.call_finding(RULE.code, traced, message, FIX)


RULE = RuleSpec(
    name="fire-and-forget",
    summary="The task spawns asyncio tasks it never awaits; a queue worker would drop them.",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
