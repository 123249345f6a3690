"""Fixtures of the outbox tests: a database of their own with the tables created."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bgmigrate.testing.conformance_tasks import REDIS_URL_ENV
from bgmigrate.testing.outbox_app import create_tables, engine
from bgmigrate.testing.postgres_servers import create_database, drop_database


@pytest.fixture
def outbox_url(_postgres_server_url: str) -> Iterator[str]:
    """SQLAlchemy URL of a new database with the ``orders`` and outbox tables; dropped after."""
    url = create_database(_postgres_server_url, prefix="bgm_ob")
    sqlalchemy_url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    create_tables(sqlalchemy_url)
    yield sqlalchemy_url
    engine(sqlalchemy_url).dispose()
    drop_database(url)


@pytest.fixture
def task_log(
    redis_url: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> str:
    """A fresh Redis list for ``record`` to write to (here and in the workers)."""
    monkeypatch.setenv(REDIS_URL_ENV, redis_url)
    return f"outbox:{request.node.name}"
