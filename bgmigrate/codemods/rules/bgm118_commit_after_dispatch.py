"""BGM118 commit-after-dispatch: the task reads the database, but the request commits later.

The endpoint writes through its session and leaves the commit to a yield dependency's
teardown (``yield db`` then ``db.commit()``). Moved to a queue, the task is dispatched when
the handler returns, before that teardown: a worker that picks it up within milliseconds opens
its own session and does not find the row (measured in ``docs/guarantees.md``), and if the
commit then fails the task runs for data that was rolled back. Bind the request's tasks to
the session with ``tasks.after_commit(db)``, so that they are published when it commits, or
use the outbox. A commit in the handler itself is safe: ``Tasks`` dispatches after it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator

from bgmigrate.codemods.facts import Call, FunctionFacts
from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

DEPENDENCY = """
def get_db():
    db = SessionLocal()
    try:
        yield db
        db.commit()
    finally:
        db.close()
"""
HEADER = """
from fastapi import BackgroundTasks, Depends, FastAPI
from sqlalchemy.orm import Session
from app.db import SessionLocal, User

app = FastAPI()
"""
TASK = """
def welcome(user_id: int) -> None:
    with SessionLocal() as db:
        print(db.get(User, user_id).email)
"""
VALID = (
    HEADER
    + DEPENDENCY
    + TASK
    + """
@app.post("/users")
def create(background_tasks: BackgroundTasks, db: Session = Depends(get_db)) -> None:
    user = User(email="a@example.com")
    db.add(user)
    db.commit()
    background_tasks.add_task(welcome, user.id)
""",
    HEADER.replace("FastAPI\n", "FastAPI\nfrom bgmigrate import Tasks\n", 1)
    + DEPENDENCY
    + TASK
    + """
@app.post("/users")
def create(tasks: Tasks, db: Session = Depends(get_db)) -> None:
    tasks.after_commit(db)
    user = User(email="a@example.com")
    db.add(user)
    db.flush()
    tasks.add_task(welcome, user.id)
""",
)
INVALID = (
    Invalid(
        HEADER
        + DEPENDENCY
        + TASK
        + """
@app.post("/users")
def create(background_tasks: BackgroundTasks, db: Session = Depends(get_db)) -> None:
    user = User(email="a@example.com")
    db.add(user)
    db.flush()
    background_tasks.add_task(welcome, user.id)
""",
        line=24,
        column=4,
    ),
)
FIX = "bind the tasks to the session with tasks.after_commit(db), or use the outbox"
WRITES = frozenset({"add", "add_all", "merge", "delete", "flush", "execute", "bulk_save_objects"})
"""Session methods that write (``execute`` may run an ``INSERT``/``UPDATE``)."""
READS = (
    "sqlalchemy.orm.Session",
    "sqlalchemy.ext.asyncio.AsyncSession",
    "sqlmodel.Session",
    "*SessionLocal",
    "*session_factory",
    "*sessionmaker*",
    "*get_session",
    "*get_db",
    "*async_session*",
    "*.query",
    "*.execute",
    "*.exec",
    "*.scalars",
)
"""Calls by which a task opens a session or reads the database (fnmatch patterns)."""


def method(call: Call) -> str:
    """The method name of ``call`` (``commit`` for ``db.commit``)."""
    return call.name.rpartition(".")[2]


def teardown_commit(dependency: FunctionFacts) -> Call | None:
    """The ``commit()`` that ``dependency`` makes after its ``yield``, if any."""
    if dependency.yield_line is None:
        return None
    later = (c for c in dependency.calls if c.at.line > dependency.yield_line)
    return next((c for c in later if method(c) == "commit"), None)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding when the endpoint writes, does not commit, and a dependency commits later."""
    endpoint = ctx.endpoint
    if endpoint is None or not any(
        any(fnmatch.fnmatchcase(t.call.name, p) for p in READS) for t in ctx.calls
    ):
        return
    params = {param.name for param in endpoint.params}
    writes = [
        c for c in endpoint.calls if method(c) in WRITES and c.label.partition(".")[0] in params
    ]
    if not writes or any(method(c) in ("commit", "after_commit") for c in endpoint.calls):
        return
    for path, dependency in ctx.dependencies:
        commit = teardown_commit(dependency)
        if commit is None:
            continue
        message = (
            f"the request writes ({writes[0].label}) and {dependency.qualname} commits in its "
            f"teardown, after the task is dispatched: a worker may read before the commit; {FIX}"
        )
        chain = (
            ctx.site_evidence(),
            Evidence(ctx.path, writes[0].at.line, f"{writes[0].label}()"),
            Evidence(path, commit.at.line, f"{commit.label}() after yield"),
        )
        yield Finding(RULE.code, message, FIX, (chain,))
        return


RULE = RuleSpec(
    name="commit-after-dispatch",
    summary="The task reads the database, but the request's session commits after dispatch.",
    effect=Effect.FIX,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
