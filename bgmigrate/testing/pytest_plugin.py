"""pytest fixtures for real Redis and real workers; load with ``pytest_plugins``.

In a ``conftest.py``::

    pytest_plugins = ["bgmigrate.testing.pytest_plugin"]

Fixtures:

- ``redis_url`` (session): a flushed Redis database for tests (see
  :mod:`bgmigrate.testing.redis_servers`); a missing Redis fails with the fix, never skips.
- ``redis_server_factory``: start private ``redis-server`` processes (``aof=True`` for
  persistence) to stop, kill or restart in fault tests; all removed after the test.
- ``worker_factory`` / ``session_worker_factory``: start worker subprocesses and wait until
  they are ready; every worker is stopped after the test (or the session).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

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
