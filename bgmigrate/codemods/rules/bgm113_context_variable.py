"""BGM113 context-variable: the task reads a context variable set by the request.

Starlette runs a background task in a copy of the request's ``contextvars`` context, so a
``ContextVar`` set by a middleware or the endpoint (the current organisation, a request id,
a per-request context object) is visible to it. A queue worker runs the task in its own
context, where the variable holds its default (often ``None``). Pass the values the task
reads as arguments, and set the variable inside the task if the code below it needs it.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
from contextvars import ContextVar
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")

def log(request_id: str) -> None:
    print(request_id)

@app.post("/runs")
def start(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(log, REQUEST_ID.get())
""",
)
INVALID = (
    Invalid(
        """
from contextvars import ContextVar
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
REQUEST_ID: ContextVar[str] = ContextVar("request_id", default="-")

def current() -> str:
    return REQUEST_ID.get()

def log() -> None:
    print(current())

@app.post("/runs")
def start(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(log)
""",
        line=15,
        column=4,
    ),
)
READS = ("contextvars.ContextVar.get",)
FIX = "pass the values the task reads from the context variable as arguments"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per read of a context variable by the task or the functions it calls."""
    for traced in ctx.matching(READS):
        message = (
            f"reads a context variable ({traced.call.label}()): a worker has no request context"
        )
        yield ctx.call_finding(RULE.code, traced, message, FIX)


RULE = RuleSpec(
    name="context-variable",
    summary="The task reads a ContextVar set by the request; a worker's context does not have it.",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
