"""BGM108 coroutine-never-awaited: a lambda task returns a coroutine that nobody awaits.

Starlette calls a lambda as a sync function (in the thread pool); when the lambda calls an
``async def`` function it only creates the coroutine, which is never awaited: the work never
happens. Pass the async function itself to ``add_task``.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.facts import CallableKind
from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

async def notify(user_id: int) -> None:
    print(user_id)

@app.post("/notify")
def post(user_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(notify, user_id)
""",
)
INVALID = (
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

async def notify(user_id: int) -> None:
    print(user_id)

@app.post("/notify")
def post(user_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(lambda: notify(user_id))
""",
        line=10,
        column=4,
    ),
)
FIX = "pass the async function and its arguments to add_task, not a lambda"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """A finding when a lambda's body calls an ``async def`` function."""
    if ctx.site.task.kind is not CallableKind.LAMBDA:
        return
    for name in ctx.site.task.lambda_calls:
        if name in ctx.async_targets:
            message = (
                f"the lambda returns the coroutine of async {name}() and nothing awaits it: "
                f"the work never runs; {FIX}"
            )
            yield Finding(RULE.code, message, FIX, (ctx.site_evidence(), *ctx.task_evidence()))


RULE = RuleSpec(
    name="coroutine-never-awaited",
    summary="A lambda task calls an async function: the coroutine is never awaited (a bug today).",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
