"""BGM114 uncarriable-parameter: an argument goes to a parameter whose type no queue carries.

A queued call travels as JSON, validated against the task's type hints. A parameter
annotated with a database session, a ``Request``, an ``UploadFile``, a WebSocket, an HTTP
client or the BackgroundTasks object cannot be sent, whatever the caller passes: the enqueue
fails. Pass an id or the data itself, and open the session or client inside the task.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from bgmigrate.codemods.facts import CallableKind
from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext
from bgmigrate.codemods.rules._handed_off import receiving_param

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI
from sqlalchemy.orm import Session

app = FastAPI()

def close_report(report_id: int, db: Session | None = None) -> None:
    print(report_id)

@app.post("/reports/{report_id}/close")
def close(report_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(close_report, report_id)
""",
)
INVALID = (
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI
from sqlalchemy.orm import Session
from app.db import SessionLocal

app = FastAPI()

def close_report(report_id: int, db: Session | None = None) -> None:
    print(report_id)

@app.post("/reports/{report_id}/close")
def close(report_id: int, background_tasks: BackgroundTasks) -> None:
    db = SessionLocal()
    background_tasks.add_task(close_report, report_id, db=db)
""",
        line=13,
        column=4,
    ),
)
UNCARRIABLE = (
    "fastapi.Request",
    "starlette.requests.Request",
    "fastapi.UploadFile",
    "starlette.datastructures.UploadFile",
    "fastapi.WebSocket",
    "starlette.websockets.WebSocket",
    "fastapi.BackgroundTasks",
    "starlette.background.BackgroundTasks",
    "sqlalchemy.orm.Session",
    "sqlalchemy.orm.session.Session",
    "sqlalchemy.ext.asyncio.AsyncSession",
    "sqlalchemy.ext.asyncio.session.AsyncSession",
    "sqlmodel.Session",
    "sqlmodel.ext.asyncio.session.AsyncSession",
    "httpx.Client",
    "httpx.AsyncClient",
    "requests.Session",
    "aiohttp.ClientSession",
)
FIX = "pass an id or plain data and open the session or client inside the task"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per argument given to a parameter annotated with an uncarriable type."""
    if ctx.task is None or ctx.site.task.kind not in (
        CallableKind.FUNCTION,
        CallableKind.BOUND_METHOD,
    ):
        return
    positional = [a for a in ctx.site.arguments if a.keyword is None]
    for argument in ctx.site.arguments:
        position = positional.index(argument) if argument.keyword is None else -1
        param = receiving_param(ctx, argument, position)
        annotation = param.annotation if param is not None else None
        if param is None or annotation is None or argument.text.startswith("*"):
            continue
        if any(fnmatch.fnmatchcase(annotation, p) for p in UNCARRIABLE):
            message = (
                f"{argument.text!r} goes to {param.name}: {annotation}, which no queue carries"
            )
            evidence = (
                ctx.site_evidence(),
                *ctx.task_evidence(),
                Evidence(ctx.path, argument.at.line, argument.text),
            )
            yield Finding(RULE.code, f"{message}; {FIX}", FIX, (evidence,))


RULE = RuleSpec(
    name="uncarriable-parameter",
    summary="An argument goes to a parameter typed as a session, request, upload or client.",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
