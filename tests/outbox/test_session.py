"""Outbox mode on the request's session: commit writes the rows, rollback writes none."""

from __future__ import annotations

import logging

import anyio
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

import bgmigrate
from bgmigrate import ConfigError, SerializationError, task
from bgmigrate.outbox import OutboxBatch
from bgmigrate.outbox.table import table
from bgmigrate.testing.outbox_app import engine, make_app, orders, record


@task
def in_process_only(n: int) -> None:
    """Routed to the in-process backend by the tests below."""


def outbox_rows(url: str) -> list[tuple[object, ...]]:
    with engine(url).connect() as conn:
        query = select(table().c.task, table().c.backend, table().c.payload).order_by("id")
        return [tuple(row) for row in conn.execute(query)]


@pytest.fixture(autouse=True)
def arq_routing(outbox_url: str) -> None:
    bgmigrate.configure(backend="arq", outbox_url=outbox_url)


def test_a_commit_writes_the_tasks_in_the_order_added(outbox_url: str) -> None:
    with Session(engine(outbox_url)) as session:
        tasks = OutboxBatch(session)
        tasks.add_task(record, "log", 1)
        tasks.add_task(record, log="log", n=2)
        assert len(tasks) == 2
        assert outbox_rows(outbox_url) == []  # written at the commit, not before
        session.commit()
    name = "bgmigrate.testing.outbox_app.record"
    assert outbox_rows(outbox_url) == [
        (name, "arq", {"args": ["log", 1], "kwargs": {}}),
        (name, "arq", {"args": ["log", 2], "kwargs": {}}),
    ]


def test_a_rollback_writes_nothing_and_logs_the_dropped_tasks(
    outbox_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with Session(engine(outbox_url)) as session:
        OutboxBatch(session).add_task(record, "log", 1)
        session.rollback()
        session.commit()  # a later commit does not bring them back
    assert outbox_rows(outbox_url) == []
    assert "dropped 1 outbox task(s)" in caplog.text
    assert "outbox_app.record" in caplog.text


def test_a_session_closed_without_commit_writes_nothing(
    outbox_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "bgmigrate.outbox")
    with Session(engine(outbox_url)) as session:
        session.execute(text("SELECT 1"))
        OutboxBatch(session).add_task(record, "log", 1)
    assert outbox_rows(outbox_url) == []
    assert "dropped 1 outbox task(s)" in caplog.text


def test_a_failed_commit_writes_neither_the_data_nor_the_tasks(outbox_url: str) -> None:
    with Session(engine(outbox_url)) as session:
        # Checked at COMMIT, after the outbox rows were inserted: the commit itself fails.
        session.execute(text("CREATE TABLE once (v int UNIQUE DEFERRABLE INITIALLY DEFERRED)"))
        session.commit()
        session.execute(text("INSERT INTO once VALUES (1), (1)"))
        OutboxBatch(session).add_task(record, "log", 1)
        with pytest.raises(IntegrityError, match="duplicate key"):
            session.commit()
    assert outbox_rows(outbox_url) == []


def test_bad_arguments_fail_at_add_task(outbox_url: str) -> None:
    with Session(engine(outbox_url)) as session:
        with pytest.raises(SerializationError, match="n"):
            OutboxBatch(session).add_task(record, "log", "not a number")  # type: ignore[arg-type]
        session.commit()
    assert outbox_rows(outbox_url) == []


def test_a_task_on_the_in_process_backend_is_refused_at_add_task(outbox_url: str) -> None:
    bgmigrate.configure(backend="arq", routes={"*in_process_only": "inprocess"})
    with Session(engine(outbox_url)) as session, pytest.raises(ConfigError, match="route it"):
        OutboxBatch(session).add_task(in_process_only, 1)


@task
def takes_bytes(data: bytes) -> None:
    """Large bytes go to the blob store when one is set."""


def test_a_task_given_files_for_the_blob_store_is_refused_at_add_task(
    outbox_url: str, redis_url: str
) -> None:
    bgmigrate.configure(backend="arq", blob_store=redis_url, blob_inline_bytes=10)
    with Session(engine(outbox_url)) as session, pytest.raises(ConfigError, match="blob store"):
        OutboxBatch(session).add_task(takes_bytes, b"x" * 100)


def test_an_async_session_writes_at_its_commit(outbox_url: str) -> None:
    async def two_requests() -> None:
        async_engine = create_async_engine(outbox_url)
        try:
            async with AsyncSession(async_engine) as session:
                OutboxBatch(session).add_task(record, "log", 1)
                await session.commit()
            async with AsyncSession(async_engine) as session:
                OutboxBatch(session).add_task(record, "log", 2)
                await session.rollback()
        finally:
            await async_engine.dispose()

    anyio.run(two_requests)
    assert [row[2] for row in outbox_rows(outbox_url)] == [{"args": ["log", 1], "kwargs": {}}]


def test_the_endpoint_commits_its_row_and_its_task_together(
    outbox_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_OUTBOX_URL", outbox_url)
    with TestClient(make_app()) as client:
        assert client.post("/orders/log/1").status_code == 200
        assert client.post("/orders/log/2", params={"fail": True}).status_code == 409
    with engine(outbox_url).connect() as conn:
        assert conn.scalar(select(func.count()).select_from(orders)) == 1
    assert [row[2] for row in outbox_rows(outbox_url)] == [{"args": ["log", 1], "kwargs": {}}]
