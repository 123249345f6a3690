"""pytest fixtures for real Redis and real workers; load with ``pytest_plugins``.

In a ``conftest.py``::

    pytest_plugins = ["bgmigrate.testing.pytest_plugin"]

Fixtures:

- ``redis_url`` (session): a flushed Redis database for tests (see
  :mod:`bgmigrate.testing.redis_servers`); a missing Redis fails with the fix, never skips.
- ``redis_server_factory``: start private ``redis-server`` processes (``aof=True`` for
  persistence) to stop, kill or restart in fault tests; all removed after the test.
- ``postgres_url``: a new, empty PostgreSQL database for one test, dropped after it (see
  :mod:`bgmigrate.testing.postgres_servers`); a missing PostgreSQL fails with the fix.
- ``postgres_server_factory``: start private PostgreSQL servers to stop, kill or restart in fault
  tests; all removed after the test.
- ``worker_factory`` / ``session_worker_factory``: start worker subprocesses and wait until
  they are ready; every worker is stopped after the test (or the session).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bgmigrate.testing.postgres_servers import (
    PostgresServerFactory,
    PostgresUnavailable,
    create_database,
    drop_database,
    find_or_start_test_postgres,
)
from bgmigrate.testing.redis_servers import (
    RedisServerFactory,
    RedisUnavailable,
    find_or_start_test_redis,
)
from bgmigrate.testing.workers import WorkerFactory

# The conformance suite's asserts should explain themselves like those in test modules.
pytest.register_assert_rewrite("bgmigrate.testing.conformance")


@pytest.fixture(scope="session")
def _session_redis_servers() -> Iterator[RedisServerFactory]:
    factory = RedisServerFactory()
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def redis_url(_session_redis_servers: RedisServerFactory) -> str:
    """URL of a Redis database reserved for this test session, flushed once at start."""
    try:
        return find_or_start_test_redis(_session_redis_servers)
    except RedisUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def redis_server_factory() -> Iterator[RedisServerFactory]:
    """Factory of private ``redis-server`` processes, all killed after the test."""
    factory = RedisServerFactory()
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def _session_postgres_servers() -> Iterator[PostgresServerFactory]:
    factory = PostgresServerFactory()
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def _postgres_server_url(_session_postgres_servers: PostgresServerFactory) -> str:
    try:
        return find_or_start_test_postgres(_session_postgres_servers)
    except PostgresUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def postgres_url(_postgres_server_url: str) -> Iterator[str]:
    """URL of a new, empty PostgreSQL database for this test; dropped after it."""
    url = create_database(_postgres_server_url)
    yield url
    drop_database(url)


@pytest.fixture
def postgres_server_factory() -> Iterator[PostgresServerFactory]:
    """Factory of private PostgreSQL servers, all killed after the test."""
    factory = PostgresServerFactory()
    yield factory
    factory.close()


@pytest.fixture
def worker_factory() -> Iterator[WorkerFactory]:
    """Factory of worker subprocesses, all stopped after the test."""
    factory = WorkerFactory()
    yield factory
    factory.close()


@pytest.fixture(scope="session")
def session_worker_factory() -> Iterator[WorkerFactory]:
    """Factory of worker subprocesses shared by a session, all stopped at its end."""
    factory = WorkerFactory()
    yield factory
    factory.close()
