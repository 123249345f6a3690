"""The after-commit spool: bounded, and never silent about a job it cannot publish.

Its broker is a private ``redis-server`` that is stopped, so every publish is refused.
"""

from __future__ import annotations

import pytest

import bgmigrate
from bgmigrate import task
from bgmigrate.spool import Spool
from bgmigrate.testing.redis_servers import RedisServerFactory


@task
def notify(user: int) -> None:
    """The spooled task (never run)."""


def test_a_job_over_the_bound_is_logged_at_once_and_the_rest_when_the_process_stops(
    redis_server_factory: RedisServerFactory, caplog: pytest.LogCaptureFixture
) -> None:
    broker = redis_server_factory()
    broker.stop()
    runtime = bgmigrate.configure(backend="arq", broker_url=broker.url)
    (backend, first), (_, second) = (runtime.prepare(notify, (n,), {}) for n in (1, 2))
    spool = Spool(max_jobs=1, retry_for=60)
    spool.put(backend, [first])
    spool.put(backend, [second])
    assert len(spool) == 1
    [over] = [r.getMessage() for r in caplog.records if "NOT enqueued" in r.getMessage()]
    assert second.id in over
    assert "BGMIGRATE_AFTER_COMMIT_SPOOL_MAX" in over
    spool.drain(timeout=0)
    assert len(spool) == 0
    lost = [r.getMessage() for r in caplog.records if "NOT enqueued" in r.getMessage()]
    assert first.id in lost[-1]
    assert "process stopped" in lost[-1]
