"""BGM105 not-importable-callable: no queue can carry the callable by name.

A worker runs a task by its registered name. Lambdas, closures, bound methods,
``functools.partial`` objects and callables chosen at run time have no such name. Pass a
module-level function and its arguments to ``add_task`` instead.
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

def notify(user_id: int) -> None:
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

def notify(user_id: int) -> None:
    print(user_id)

@app.post("/notify")
def post(user_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(lambda: notify(user_id))
""",
        line=10,
        column=4,
    ),
    Invalid(
        """
import functools
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def notify(user_id: int, loud: bool) -> None:
    print(user_id)

@app.post("/notify")
def post(user_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(functools.partial(notify, loud=True), user_id)
""",
        line=11,
        column=4,
    ),
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

@app.post("/notify")
def post(user_id: int, background_tasks: BackgroundTasks) -> None:
    def notify() -> None:
        print(user_id)

    background_tasks.add_task(notify)
""",
        line=10,
        column=4,
    ),
)
_WHAT = {
    CallableKind.LAMBDA: "a lambda",
    CallableKind.PARTIAL: "a functools.partial",
    CallableKind.BOUND_METHOD: "a bound method",
    CallableKind.NESTED: "a nested function (closure)",
    CallableKind.DYNAMIC: "a callable chosen at run time",
}
FIX = "pass a module-level function and its arguments to add_task"


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding when the callable is not a module-level function."""
    kind = ctx.site.task.kind
    if kind is CallableKind.FUNCTION:
        return
    message = f"{ctx.site.task.text!r} is {_WHAT[kind]}: no queue can carry it by name; {FIX}"
    yield Finding(RULE.code, message, FIX, (ctx.site_evidence(), *ctx.task_evidence()))


RULE = RuleSpec(
    name="not-importable-callable",
    summary="The callable is a lambda, closure, bound method, partial or dynamic expression.",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
