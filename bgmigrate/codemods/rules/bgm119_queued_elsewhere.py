"""BGM119 queued-elsewhere: the task is already a task of another queue.

A function decorated with Celery's ``@shared_task`` or ``@app.task``, Dramatiq's ``@actor``,
Prefect's ``@task``/``@flow``, RQ's ``@job``, Huey's or TaskIQ's ``.task``, or invoke's
``@task`` is no longer a plain function but that library's task object. ``add_task`` runs it
in the web process all the same (calling the object runs its body), so nothing breaks today;
but ``@task`` from bgmigrate cannot go on top of it (it registers functions only, and the app
would fail at import), and two queues for one function is not a migration. A human picks one:
send the task through the queue it already has (``send_email.delay(to)`` with Celery) instead
of ``add_task``, or remove the other decorator so ``rewrite`` can add bgmigrate's. ``rewrite``
never stacks the two: it writes this finding above the call site. The app's own decorators
(functions of the scanned tree, ``functools.wraps`` wrappers) are not concerned.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

QUEUE_DECORATORS = (
    "*.task",
    "*.shared_task",
    "*.periodic_task",
    "*.actor",
    "prefect.flow",
    "rq.decorators.job",
)
"""Decorators (resolved names, fnmatch) that turn a function into another library's task:
Celery's ``shared_task`` and ``<app>.task``, Huey's and TaskIQ's ``.task``, Dramatiq's ``actor``,
Prefect's ``task`` and ``flow``, RQ's ``job``, invoke's ``task``."""

VALID = (
    """
import functools
import time

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper

@logged
def crunch(n: int) -> None:
    time.sleep(n)

@app.post("/crunch")
def post(n: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(crunch, n)
""",
)
INVALID = (
    Invalid(
        """
from celery import shared_task
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

@shared_task
def send_email(to: str) -> None:
    print(to)

@app.post("/signup")
def signup(to: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(send_email, to)
""",
        line=12,
        column=4,
    ),
    Invalid(
        """
from celery import Celery
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
celery_app = Celery("jobs")

@celery_app.task(bind=True)
def send_email(self, to: str) -> None:
    print(to)

@app.post("/signup")
def signup(to: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(send_email, to)
""",
        line=13,
        column=4,
    ),
)


def _fix(decorator: str) -> str:
    return (
        "send it with the queue it has (Celery: .delay()) instead of add_task, or remove"
        f" @{decorator} for bgmigrate's @task (rewrite never stacks the two)"
    )


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per decorator of the task that makes it another library's task."""
    for name, written in ctx.foreign_decorators:
        if any(fnmatch.fnmatchcase(name, p) for p in QUEUE_DECORATORS):
            # A bare name may hide where it comes from (``from prefect import task``).
            shown = f"{written} ({name})" if "." not in written and written != name else written
            message = f"{ctx.task_name} is already a task of another queue: @{shown}"
            evidence = ((ctx.site_evidence(), *ctx.task_evidence()),)
            yield Finding(RULE.code, message, _fix(shown), evidence)


RULE = RuleSpec(
    name="queued-elsewhere",
    summary="The task is already a task of another queue (Celery, Dramatiq, Prefect, RQ, ...).",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
