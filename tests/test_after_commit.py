"""``tasks.after_commit(session)``: queued tasks wait for the request's transaction to commit.

The broker is a private ``redis-server`` nobody consumes: each test reads its queue, at the
moment the session's teardown is about to commit and after, to see when the tasks were
published. The session commits in a request-scope yield dependency, after the response.
"""

# No ``from __future__ import annotations``: FastAPI reads the handler's annotations, which name
# a dependency local to make_app.
import logging
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import redis
import sqlmodel
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

import bgmigrate
from bgmigrate import Tasks, task
from bgmigrate.testing.commit_race import Base, Row
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServer, RedisServerFactory
from tests.adapters.test_broker_outage import queued

KINDS = ["sqlalchemy", "sqlmodel", "async"]
"""SQLAlchemy ``Session``, SQLModel ``Session``, SQLAlchemy ``AsyncSession``."""


@task
def touch(row: str) -> None:
    """The queued task (never run: these tests read the broker's queue)."""


def session_dependency(
    kind: str, database: Path, before_commit: Callable[[], None], *, commit: bool = True
) -> Callable[[], Any]:
    """A request-scope yield dependency of ``kind`` that calls ``before_commit`` in its
    teardown, then commits (or, with ``commit=False``, closes without committing)."""
    if kind == "async":
        async_engine = create_async_engine(f"sqlite+aiosqlite:///{database}")

        async def async_session() -> AsyncIterator[AsyncSession]:
            async with AsyncSession(async_engine) as session:
                yield session
                before_commit()
                if commit:
                    await session.commit()

        return async_session
    engine = create_engine(f"sqlite:///{database}")
    cls = sqlmodel.Session if kind == "sqlmodel" else Session

    def sync_session() -> Iterator[Session]:
        with cls(engine) as session:
            yield session
            before_commit()
            if commit:
                session.commit()

    return sync_session


def make_app(dependency: Callable[[], Any], *, open_transaction: bool = True) -> FastAPI:
    """``POST /rows/{row}`` adds a row and two ``touch`` tasks with ``after_commit`` on; with
    ``open_transaction=False`` it adds the tasks before the row, while no transaction is open."""
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/rows/{row}")
    async def create(row: str, session: Annotated[Any, Depends(dependency)], tasks: Tasks) -> None:
        tasks.after_commit(session)
        if open_transaction:
            session.add(Row(id=row))
        tasks.add_task(touch, row)
        tasks.add_task(touch, row)
        if not open_transaction:
            session.add(Row(id=row))

    return app


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A SQLite file with the rows table."""
    path = tmp_path / "rows.db"
    Base.metadata.create_all(create_engine(f"sqlite:///{path}"))
    return path


def queue_length(broker: RedisServer, backend: str) -> int:
    """Tasks waiting in ``broker``'s default queue."""
    with redis.Redis.from_url(broker.url) as client:
        return queued(client, backend)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_tasks_added_in_a_transaction_are_published_once_it_commits_after_the_response(
    backend: str, kind: str, database: Path, redis_server_factory: RedisServerFactory
) -> None:
    broker = redis_server_factory()
    bgmigrate.configure(backend=backend, broker_url=broker.url)
    before_commit: list[int] = []
    dependency = session_dependency(
        kind, database, lambda: before_commit.append(queue_length(broker, backend))
    )
    with TestClient(make_app(dependency)) as client:
        assert client.post(f"/rows/{uuid.uuid4().hex}").status_code == 200
        wait_until(lambda: queue_length(broker, backend) == 2, timeout=10, what="2 tasks")
    assert before_commit == [0]


@pytest.mark.parametrize("kind", KINDS)
def test_tasks_of_a_transaction_that_does_not_commit_are_dropped_and_logged_by_name(
    kind: str,
    database: Path,
    redis_server_factory: RedisServerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = redis_server_factory()
    runtime = bgmigrate.configure(backend="celery", broker_url=broker.url)
    dependency = session_dependency(kind, database, lambda: None, commit=False)
    with TestClient(make_app(dependency)) as client:
        assert client.post(f"/rows/{uuid.uuid4().hex}").status_code == 200
    dropped = [r for r in caplog.records if "did not commit" in r.getMessage()]
    assert len(dropped) == 2
    assert all(touch.name in r.getMessage() for r in dropped)
    assert (len(runtime.spool), queue_length(broker, "celery")) == (0, 0)


def test_tasks_added_with_no_transaction_open_are_dispatched_when_the_handler_returns(
    database: Path, redis_server_factory: RedisServerFactory
) -> None:
    broker = redis_server_factory()
    bgmigrate.configure(backend="celery", broker_url=broker.url)
    before_commit: list[int] = []
    dependency = session_dependency(
        "sqlalchemy", database, lambda: before_commit.append(queue_length(broker, "celery"))
    )
    with TestClient(make_app(dependency, open_transaction=False)) as client:
        assert client.post(f"/rows/{uuid.uuid4().hex}").status_code == 200
    assert before_commit == [2]


@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_a_broker_down_at_commit_does_not_fail_the_request_and_the_spool_publishes_later(
    backend: str,
    database: Path,
    redis_server_factory: RedisServerFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = redis_server_factory(aof=True)
    runtime = bgmigrate.configure(backend=backend, broker_url=broker.url)
    dependency = session_dependency("sqlalchemy", database, broker.stop)
    with TestClient(make_app(dependency)) as client:
        assert client.post(f"/rows/{uuid.uuid4().hex}").status_code == 200
        wait_until(lambda: "not enqueued yet" in caplog.text, timeout=30, what="a refusal")
        assert len(runtime.spool) == 2
        broker.start()
        wait_until(lambda: queue_length(broker, backend) == 2, timeout=30, what="2 tasks")
    assert "NOT enqueued" not in caplog.text


def test_tasks_the_spool_gives_up_on_are_each_logged_with_name_id_and_arguments(
    database: Path, redis_server_factory: RedisServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    broker = redis_server_factory()
    runtime = bgmigrate.configure(
        backend="arq", broker_url=broker.url, after_commit_retry_timeout=0.5
    )
    row = uuid.uuid4().hex
    dependency = session_dependency("sqlalchemy", database, broker.stop)
    with TestClient(make_app(dependency)) as client:
        assert client.post(f"/rows/{row}").status_code == 200

        def lost() -> list[logging.LogRecord]:
            return [r for r in caplog.records if "NOT enqueued" in r.getMessage()]

        records = wait_until(
            lambda: lost() if len(lost()) == 2 else None, timeout=30, what="2 tasks logged lost"
        )
    assert len(runtime.spool) == 0
    assert all(r.levelno == logging.ERROR for r in records)
    messages = [r.getMessage() for r in records]
    assert all(touch.name in m and row in m for m in messages)
    assert len({m.split("(job ")[1].split(")")[0] for m in messages}) == 2


def test_after_commit_takes_a_sqlalchemy_session_and_only_one(database: Path) -> None:
    batch = bgmigrate.RequestBatch()
    with pytest.raises(TypeError, match="SQLAlchemy Session or AsyncSession"):
        batch.after_commit(object())  # type: ignore[arg-type]
    engine = create_engine(f"sqlite:///{database}")
    with Session(engine) as first, Session(engine) as second:
        batch.after_commit(first)
        batch.after_commit(first)
        with pytest.raises(ValueError, match="another session"):
            batch.after_commit(second)
