"""The after-commit spool: bounded, and never silent about a job it cannot publish.

Its broker is a private ``redis-server`` that is stopped, so every publish is refused; or, where
the order of events matters, a backend whose publish waits for the test.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

import bgmigrate
from bgmigrate import task
from bgmigrate.backend import Job, TaskHandle
from bgmigrate.errors import EnqueueError
from bgmigrate.settings import Settings
from bgmigrate.spool import Spool
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServerFactory
from tests.backends import RecordingBackend


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


class _HeldBackend(RecordingBackend):
    """A broker whose publish waits until the test releases it, then is refused."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.publishing = threading.Event()
        self.release = threading.Event()

    def enqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        self.publishing.set()
        self.release.wait(30)
        raise EnqueueError("broker redis://127.0.0.1:1/0 is unreachable")


def test_a_job_drained_while_its_publish_is_under_way_is_reported_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = bgmigrate.configure(backend="tests.backends:RecordingBackend")
    _, job = runtime.prepare(notify, (1,), {})
    backend = _HeldBackend(runtime.settings)
    spool = Spool(max_jobs=10, retry_for=60)
    spool.put(backend, [job])
    assert backend.publishing.wait(10)
    spool.drain(timeout=0)  # the process stops while the publish is under way
    backend.release.set()  # ... and that publish is refused afterwards
    wait_until(
        lambda: not any(t.name == "bgmigrate-after-commit" for t in threading.enumerate()),
        timeout=10,
        what="the spool's thread to end",
    )
    said = [r.getMessage() for r in caplog.records if job.task.name in r.getMessage()]
    assert len(said) == 1
    assert "process stopped" in said[0]
