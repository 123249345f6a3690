"""An application in outbox mode and its task, for the outbox's tests, faults and benchmark.

``POST /orders/{log}/{n}`` inserts an order row and adds ``record(log, n)`` in the same
transaction, then commits; with ``?fail=true`` it raises after ``add_task`` instead, so the
transaction rolls back. ``record`` appends ``n`` to the Redis list ``log`` (at
``BGMIGRATE_CONFORMANCE_REDIS_URL``), so a test counts how often each job ran. The database is
``BGMIGRATE_OUTBOX_URL`` (a SQLAlchemy URL, e.g. ``postgresql+psycopg://...``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from typing import Annotated

import redis
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import Column, Engine, Integer, MetaData, Table, Text, create_engine, insert
from sqlalchemy.orm import Session

import bgmigrate
from bgmigrate import task
from bgmigrate.outbox import OutboxBatch, outbox_dependency
from bgmigrate.outbox.table import ddl
from bgmigrate.testing.conformance_tasks import REDIS_URL_ENV, write

orders = Table(
    "orders",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("log", Text, nullable=False),
    Column("n", Integer, nullable=False),
)


@task
def record(log: str, n: int) -> None:
    """Append ``n`` to the Redis list ``log``."""
    write(log, n)


def ran(log: str, url: str | None = None) -> list[int]:
    """Every ``n`` that ``record`` appended to ``log`` (in the Redis at ``url``, default
    ``BGMIGRATE_CONFORMANCE_REDIS_URL``), in the order they ran."""
    with redis.Redis.from_url(url or os.environ[REDIS_URL_ENV]) as client:
        return [int(item) for item in client.lrange(log, 0, -1)]


@functools.cache
def engine(url: str) -> Engine:
    """The engine (one per process) of the database at ``url``."""
    return create_engine(url, pool_size=10)


def create_tables(url: str) -> None:
    """Create the ``orders`` table and the outbox table in the database at ``url``."""
    with engine(url).begin() as conn:
        orders.metadata.create_all(conn)
        conn.exec_driver_sql(ddl())


def get_session() -> Iterator[Session]:
    """The request's session (closed, and rolled back if not committed, at the end)."""
    with Session(engine(os.environ["BGMIGRATE_OUTBOX_URL"])) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
OutboxTasks = Annotated[OutboxBatch, Depends(outbox_dependency(get_session))]


def make_app() -> FastAPI:
    """The app whose endpoint writes an order and its task in one transaction."""
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/orders/{log}/{n}")
    def place_order(
        log: str, n: int, session: SessionDep, tasks: OutboxTasks, fail: bool = False
    ) -> dict[str, int]:
        session.execute(insert(orders).values(log=log, n=n))
        tasks.add_task(record, log, n)
        if fail:
            raise HTTPException(status_code=409, detail="failed after add_task: rolled back")
        session.commit()
        return {"n": n}

    return app
