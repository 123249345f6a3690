"""Outbox mode: a request's tasks become rows written in its own SQLAlchemy transaction.

``add_task`` checks and encodes the call at once (bad arguments fail on that line) and keeps
the row on the session; the rows are inserted when the session commits, on its connection and
inside its transaction, so that the commit enqueues them and a rollback leaves nothing. Rows
still waiting when a transaction ends without a commit are dropped and logged by task name.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec

from fastapi import Depends
from sqlalchemy import event, insert
from sqlalchemy.orm import Session, SessionTransaction

from bgmigrate.outbox.table import check_relayable, job_row, table
from bgmigrate.runtime import Runtime, get_runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

P = ParamSpec("P")

logger = logging.getLogger("bgmigrate.outbox")

_PENDING = "bgmigrate.outbox.rows"
"""Key in ``Session.info`` of the rows added since the session's last commit."""
_TABLE = "bgmigrate.outbox.table"
"""Key in ``Session.info`` of the outbox table's name (the adding runtime's setting)."""


class OutboxBatch:
    """The tasks one request adds, written to the outbox table when its session commits.

    ``add_task`` has ``BackgroundTasks.add_task``'s signature; tasks are relayed in the order
    added. Only ``@task`` functions routed to a queue backend (celery, arq) can be added.
    """

    def __init__(self, session: Session | AsyncSession, runtime: Runtime | None = None) -> None:
        """Collect tasks for ``session`` (a SQLAlchemy or SQLModel ``Session``/``AsyncSession``)."""
        self._runtime = runtime or get_runtime()
        # An AsyncSession runs a sync Session underneath, whose events fire in its greenlet.
        self._session = session if isinstance(session, Session) else session.sync_session
        _listen()

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Add ``func(*args, **kwargs)``: checked and encoded now, written at the commit."""
        backend, job = self._runtime.prepare(func, args, kwargs, caller_depth=2)
        check_relayable(backend, job)
        backend_name = job.task.options.backend or self._runtime.settings.route(job.task.name)
        if not self._session.in_transaction():
            # As the session's first query would: a rollback from here on drops this task.
            self._session.begin()
        self._session.info[_TABLE] = self._runtime.settings.outbox_table
        rows: list[dict[str, Any]] = self._session.info.setdefault(_PENDING, [])
        rows.append(job_row(backend_name, job))

    def __len__(self) -> int:
        return len(self._session.info.get(_PENDING, ()))

    def __bool__(self) -> bool:
        # True even when empty, as ``RequestBatch`` (and ``BackgroundTasks``) are.
        return True


def _write_rows(session: Session) -> None:
    """Insert the session's waiting rows on its connection, just before it commits."""
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.connection().execute(insert(table(session.info[_TABLE])), rows)


def _drop_rows(session: Session, transaction: SessionTransaction) -> None:
    """Forget rows whose transaction ended without a commit (rolled back, or closed)."""
    if transaction.parent is not None or transaction.nested:
        return  # a savepoint or a subtransaction: the outer transaction decides
    rows = session.info.pop(_PENDING, None)
    if rows:
        names = ", ".join(row["task"] for row in rows)
        logger.warning(
            "dropped %d outbox task(s) whose transaction was not committed: %s", len(rows), names
        )


def _listen() -> None:
    """Install the commit and end-of-transaction hooks on every ``Session`` (once)."""
    if not event.contains(Session, "before_commit", _write_rows):
        event.listen(Session, "before_commit", _write_rows)
        event.listen(Session, "after_transaction_end", _drop_rows)


def outbox_dependency(session_dependency: Callable[..., Any]) -> Callable[..., Any]:
    """The FastAPI dependency of outbox mode for endpoints whose session comes from
    ``session_dependency`` (the dependency that yields the request's ``Session`` or
    ``AsyncSession``)::

        OutboxTasks = Annotated[OutboxBatch, Depends(outbox_dependency(get_session))]

        @app.post("/signup")
        def signup(user: UserIn, session: SessionDep, tasks: OutboxTasks): ...

    FastAPI gives the endpoint and the batch the same session (it calls a dependency once per
    request), so the tasks commit, or roll back, with the endpoint's writes.
    """
    same_session = Depends(session_dependency)

    async def get_outbox_batch(session: Any = same_session) -> OutboxBatch:
        return OutboxBatch(session)

    return get_outbox_batch
