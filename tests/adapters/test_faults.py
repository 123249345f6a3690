"""Faults with private processes: a Redis crash, and broker passwords in worker output."""

from __future__ import annotations

import uuid

import pytest

import bgmigrate
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import labels, start_backend
from bgmigrate.testing.redis_servers import RedisServerFactory
from bgmigrate.testing.workers import WorkerFactory


@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_tasks_enqueued_before_a_redis_crash_run_after_it(
    backend: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = redis_server_factory(aof=True)
    queue, log = f"crash-{uuid.uuid4().hex[:8]}", f"crash:{uuid.uuid4().hex}"
    monkeypatch.setenv(tasks.REDIS_URL_ENV, server.url)
    bgmigrate.configure(
        backend=backend, broker_url=server.url, result_url=server.url, default_queue=queue
    )
    for label in ("a", "b", "c"):
        tasks.record.enqueue(log, label)
    server.kill()  # SIGKILL: no chance to save anything beyond the append-only file
    server.start()
    start_backend(backend, server.url, worker_factory, queue=queue)
    assert labels(log, 3) == ["a", "b", "c"]


@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_workers_never_print_the_broker_password(
    backend: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = redis_server_factory(password="pw-s3cret-42")
    started = start_backend(backend, server.url, worker_factory)
    monkeypatch.setenv(tasks.REDIS_URL_ENV, server.url)
    bgmigrate.configure(**started.settings)
    assert tasks.add.enqueue(2, 2).result(timeout=30) == 4  # it did authenticate
    assert started.worker is not None
    assert "pw-s3cret-42" not in started.worker.log()
