"""An app that writes a row and queues a task reading it, committing in one of four places.

``POST /{placement}?row=...&log=...`` inserts row ``row`` and adds :func:`check_row`, which
records in the Redis list ``log`` whether the row was visible when the task ran. The
placements are where real applications commit: in the handler, in a function-scope yield
dependency that exits after ``Tasks`` (so after the dispatch), in a request-scope yield
dependency's teardown, and in a middleware. With ``fail=1`` the request also inserts a row
with a taken key, so that its commit fails. ``make_app(..., after_commit=True)`` binds the
request's tasks to its session with ``tasks.after_commit(session)``.

Used by ``bench/commit_race.py`` and ``tests/test_commit_race.py``; workers import this module
as a task module and read the results Redis from ``BGMIGRATE_COMMIT_RACE_REDIS_URL``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

import redis
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from sqlalchemy import Engine, String, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import bgmigrate
from bgmigrate import Tasks, task

REDIS_URL_ENV = "BGMIGRATE_COMMIT_RACE_REDIS_URL"
PLACEMENTS = ("handler", "function-dependency", "request-dependency", "middleware")
"""Where the request's transaction commits, relative to the dispatch of its tasks."""
TAKEN = "taken"
"""The key of a row every database starts with: inserting it again makes a commit fail."""


class Base(DeclarativeBase):
    """Declarative base of the race's one table."""


class Row(Base):
    """A row a request writes and its task reads."""

    __tablename__ = "bgmigrate_commit_race"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)


_engines: dict[str, Engine] = {}


def engine(url: str) -> Engine:
    """One engine per database URL and process."""
    if url not in _engines:
        _engines[url] = create_engine(url)
    return _engines[url]


def dispose_engines() -> None:
    """Close the connections of every engine :func:`engine` made (a test's database goes)."""
    for made in _engines.values():
        made.dispose()
    _engines.clear()


def prepare_database(url: str) -> None:
    """Create the table (empty but for the :data:`TAKEN` row)."""
    Base.metadata.drop_all(engine(url))
    Base.metadata.create_all(engine(url))
    with Session(engine(url)) as session:
        session.add(Row(id=TAKEN))
        session.commit()


def committed_rows(url: str, ids: list[str]) -> set[str]:
    """Which of ``ids`` are committed rows."""
    with Session(engine(url)) as session:
        return set(session.scalars(select(Row.id).where(Row.id.in_(ids))))


@task
def check_row(db_url: str, row: str, log: str) -> None:
    """Append ``[row, seen]`` to the Redis list ``log``: was the row visible when this ran?"""
    with Session(engine(db_url)) as session:
        seen = session.get(Row, row) is not None
    with redis.Redis.from_url(os.environ[REDIS_URL_ENV]) as client:
        client.rpush(log, json.dumps([row, seen]))


def read_results(log: str) -> list[tuple[str, bool]]:
    """Every ``(row, seen)`` the tasks of ``log`` recorded so far."""
    with redis.Redis.from_url(os.environ[REDIS_URL_ENV]) as client:
        return [tuple(json.loads(item)) for item in client.lrange(log, 0, -1)]


def plain_session(request: Request) -> Iterator[Session]:
    """A session that the handler commits."""
    with Session(engine(request.app.state.db_url)) as session:
        yield session


def committing_session(request: Request) -> Iterator[Session]:
    """A session committed in this dependency's teardown (unless the request failed)."""
    with Session(engine(request.app.state.db_url)) as session:
        yield session
        session.commit()


def middleware_session(request: Request) -> Session:
    """The session :func:`commit_after` opened for this request."""
    session: Session = request.state.session
    return session


async def commit_after(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Middleware: one session per request, committed once the response is ready."""
    with Session(engine(request.app.state.db_url)) as session:
        request.state.session = session
        response = await call_next(request)
        if response.status_code < 400:
            session.commit()
        return response


def write(request: Request, session: Session, tasks: Tasks, row: str, log: str, fail: bool) -> None:
    """Insert ``row`` and queue :func:`check_row` for it (and, with ``fail``, a taken key)."""
    if request.app.state.after_commit:
        tasks.after_commit(session)
    session.add(Row(id=row))
    session.flush()
    tasks.add_task(check_row, request.app.state.db_url, row, log)
    if fail:
        session.add(Row(id=TAKEN))


router = APIRouter()


@router.post("/handler")
def in_handler(
    request: Request,
    session: Annotated[Session, Depends(plain_session)],
    tasks: Tasks,
    row: str,
    log: str,
    fail: bool = False,
) -> None:
    """Commit in the handler, before the tasks are dispatched."""
    write(request, session, tasks, row, log, fail)
    session.commit()


@router.post("/function-dependency")
def in_function_dependency(
    request: Request,
    # Declared before ``tasks``: entered first, it exits (and commits) after their dispatch.
    session: Annotated[Session, Depends(committing_session, scope="function")],
    tasks: Tasks,
    row: str,
    log: str,
    fail: bool = False,
) -> None:
    """Commit when a function-scope dependency exits, after the dispatch."""
    write(request, session, tasks, row, log, fail)


@router.post("/request-dependency")
def in_request_dependency(
    request: Request,
    session: Annotated[Session, Depends(committing_session)],
    tasks: Tasks,
    row: str,
    log: str,
    fail: bool = False,
) -> None:
    """Commit in a request-scope dependency's teardown."""
    write(request, session, tasks, row, log, fail)


@router.post("/middleware")
def in_middleware(
    request: Request,
    session: Annotated[Session, Depends(middleware_session)],
    tasks: Tasks,
    row: str,
    log: str,
    fail: bool = False,
) -> None:
    """Commit in a middleware, once the response is ready."""
    write(request, session, tasks, row, log, fail)


def make_app(db_url: str, *, after_commit: bool) -> FastAPI:
    """The race app on database ``db_url``; ``after_commit`` binds tasks to the session."""
    app = FastAPI(lifespan=bgmigrate.lifespan)
    app.state.db_url = db_url
    app.state.after_commit = after_commit
    app.middleware("http")(commit_after)
    app.include_router(router)
    return app
