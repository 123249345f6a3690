"""The conformance suite against every built-in backend, each with a real worker and Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bgmigrate.testing.conformance import (
    BackendUnderTest,
    WorkerConformance,
    start_backend,
)
from bgmigrate.testing.workers import WorkerFactory, bgmigrate_command

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


@pytest.fixture(scope="module", params=["celery-redis", "celery-rabbitmq", "arq"])
def backend_under_test(
    request: pytest.FixtureRequest, redis_url: str
) -> Iterator[BackendUnderTest]:
    """One worker at a time: each is stopped before the next configuration starts."""
    workers = WorkerFactory()
    if request.param == "celery-redis":  # the native `celery -A bgmigrate.adapters.celery:app`
        backend = start_backend("celery", redis_url, workers, name=request.param)
    elif request.param == "celery-rabbitmq":  # `bgmigrate worker`, RabbitMQ broker
        argv = bgmigrate_command("celery", concurrency=1)
        backend = start_backend("celery", redis_url, workers, broker_url=RABBITMQ_URL, argv=argv)
    else:  # the native `arq bgmigrate.adapters.arq.WorkerSettings`
        backend = start_backend("arq", redis_url, workers)
    yield backend
    workers.close()


class TestQueueBackends(WorkerConformance):
    """Celery (Redis and RabbitMQ brokers) and ARQ pass the whole suite."""
