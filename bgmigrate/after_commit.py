"""After-commit dispatch: a request's queued tasks wait for its SQLAlchemy transaction.

``tasks.after_commit(session)`` binds a request's :class:`~bgmigrate.batch.RequestBatch` to a
SQLAlchemy ``Session`` or ``AsyncSession`` (SQLModel's are subclasses): a task added while the
session has a transaction open is held until that transaction ends. On commit it goes to the
runtime's :class:`~bgmigrate.spool.Spool`, which publishes it; on rollback (or a close without
commit) it is dropped and logged by name. A task added with no transaction open is dispatched
when the handler returns, as without ``after_commit``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

try:
    from sqlalchemy import event
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session, SessionTransaction
except ImportError as exc:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "tasks.after_commit(session) needs SQLAlchemy: pip install 'bgmigrate[sqlalchemy]'"
    ) from exc

if TYPE_CHECKING:
    from bgmigrate.backend import Job, TaskBackend

logger = logging.getLogger("bgmigrate")

Held = list[tuple["TaskBackend", "Job"]]
"""Jobs held for a transaction, with the backend each goes to, in the order added."""


def sync_session(session: object) -> Session:
    """The ``Session`` behind ``session`` (an ``AsyncSession``'s ``sync_session``); a
    ``TypeError`` that says what is expected for anything else."""
    if isinstance(session, AsyncSession):
        return session.sync_session
    if isinstance(session, Session):
        return session
    raise TypeError(
        "tasks.after_commit() takes a SQLAlchemy Session or AsyncSession (SQLModel's too), "
        f"not {type(session).__name__}"
    )


class TransactionWatch:
    """Holds queued jobs while a session has a transaction open, until that transaction ends.

    ``release`` receives the held jobs when the transaction commits; jobs of a transaction
    that ends otherwise are logged (``WARNING``, by task name and job id) and dropped.
    """

    def __init__(self, session: Session, release: Callable[[Held], None]) -> None:
        self.session = session
        self._release = release
        self._held: Held = []
        self._lock = threading.Lock()  # a sync handler adds on one thread, commits on another
        event.listen(session, "after_commit", self._committed)
        event.listen(session, "after_transaction_end", self._ended)

    def __len__(self) -> int:
        """The number of jobs waiting for the transaction to end."""
        with self._lock:
            return len(self._held)

    def hold(self, backend: TaskBackend, job: Job) -> bool:
        """Hold ``job`` if the session has a transaction open and ``backend`` is a queue
        backend (in-process tasks run after the response already); ``False`` if not held."""
        if not (backend.encodes_arguments and self.session.in_transaction()):
            return False
        with self._lock:
            self._held.append((backend, job))
        return True

    def close(self) -> None:
        """Stop watching the session; only call it while no job is held (and outside its
        events: SQLAlchemy refuses to remove a listener while it runs)."""
        event.remove(self.session, "after_commit", self._committed)
        event.remove(self.session, "after_transaction_end", self._ended)

    def _take(self) -> Held:
        with self._lock:
            held, self._held = self._held, []
        return held

    def _committed(self, session: Session) -> None:
        held = self._take()
        if held:
            self._release(held)

    def _ended(self, session: Session, transaction: SessionTransaction, *_: Any) -> None:
        if transaction.parent is not None:  # a flush's subtransaction or a savepoint
            return
        for _backend, job in self._take():  # after_commit took them if it committed
            logger.warning(
                "task %s (job %s) dropped: the transaction it was added in did not commit",
                job.task.name,
                job.id,
            )
