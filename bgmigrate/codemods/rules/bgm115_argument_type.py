"""BGM115 argument-type: an argument's static type is one the codec refuses for its parameter.

A queued call is checked at ``add_task`` against the task's type hints, strictly: a ``UUID``
given to ``user_id: int`` is refused, and so is a pydantic model given to a parameter without
a hint (which carries plain JSON only). In-process, both work; after the switch, the request
fails at enqueue. The finding names the argument, its static type (read from the caller's
annotations, constructors, literals...), the parameter's hint, and the fix: a hint
``bgmigrate rewrite`` adds (the argument's type, where the parameter has none) or widens
(``--widen-types``). Arguments whose type is not known statically are never reported.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.argument_types import mismatches
from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
import uuid

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def notify(user_id: uuid.UUID, note: str) -> None:
    print(user_id, note)

@app.post("/notify")
def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(notify, uuid.uuid4(), str(1))
""",
    """
from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel

app = FastAPI()

class Order(BaseModel):
    id: int

def ship(order: Order, order_id) -> None:
    print(order, order_id)

@app.post("/orders")
def post(order: Order, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(ship, order, order.id)
""",
)
INVALID = (
    Invalid(
        """
import uuid

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def notify(user_id: int) -> None:
    print(user_id)

@app.post("/notify")
def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(notify, uuid.uuid4())
""",
        line=12,
        column=4,
    ),
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel

app = FastAPI()

class Order(BaseModel):
    id: int

def ship(order) -> None:
    print(order)

@app.post("/orders")
def post(order: Order, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(ship, order)
""",
        line=14,
        column=4,
    ),
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per argument whose static type the codec refuses for its parameter."""
    if ctx.task is None or ctx.types is None:
        return
    for mismatch in mismatches(ctx.types, ctx.site, ctx.task):
        evidence = (
            ctx.site_evidence(),
            *ctx.task_evidence(),
            Evidence(ctx.path, mismatch.argument.at.line, mismatch.argument.text),
        )
        yield Finding(RULE.code, mismatch.message(), mismatch.fix(), (evidence,))


RULE = RuleSpec(
    name="argument-type",
    summary="An argument's static type is one the codec refuses for its parameter's hint.",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
