"""BGM102 must-not-lose: the task does work that must survive a crash or a deploy.

Database writes and commits, email, payments and outbound webhooks (the
``must-not-lose-calls`` setting) are lost with the web process when they run in-process:
queue them, where they are acknowledged and retried. A task whose body catches and only logs
every error (BGM116) has said that its work may be lost: it gets no finding.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def count_view(page: str) -> None:
    print(page)

@app.get("/page")
def page(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(count_view, "home")
""",
)
INVALID = (
    Invalid(
        """
import smtplib
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def send_welcome(address: str) -> None:
    with smtplib.SMTP("localhost") as smtp:
        smtp.sendmail("us@example.com", [address], "hello")

@app.post("/signup")
def signup(address: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(send_welcome, address)
""",
        line=12,
        column=4,
    ),
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI
from app.db import SessionLocal

app = FastAPI()

def record(order_id: int) -> None:
    with SessionLocal() as db:
        db.commit()

@app.post("/orders")
def order(order_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(record, order_id)
""",
        line=12,
        column=4,
    ),
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per call that writes, sends or charges (none for a task that catches and
    only logs every error: its author accepts that the work is lost, BGM116)."""
    if ctx.best_effort:
        return
    patterns = ctx.config.must_not_lose_calls + ctx.config.extend_must_not_lose_calls
    for traced in ctx.matching(patterns):
        message = f"calls {traced.call.name}(): this work must not be lost on a crash or deploy"
        yield ctx.call_finding(RULE.code, traced, message)


RULE = RuleSpec(
    name="must-not-lose",
    summary="The task writes to a database, sends email, charges or calls a webhook.",
    effect=Effect.PERSIST,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
