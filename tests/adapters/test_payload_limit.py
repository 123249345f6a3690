"""An oversized argument fails at the ``add_task`` line of a request, on a real queue backend,
and nothing of that request is enqueued."""

from __future__ import annotations

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import Tasks
from bgmigrate.adapters.celery.app_factory import DEFAULT_QUEUE
from bgmigrate.errors import SerializationError
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.redis_servers import RedisServerFactory

LIMIT = 1024 * 1024
"""The default ``BGMIGRATE_MAX_PAYLOAD_BYTES``: 1 MiB."""


def make_app() -> FastAPI:
    """An endpoint that adds a small task, then one whose argument is over the limit."""
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/upload")
    def upload(tasks_: Tasks) -> None:
        tasks_.add_task(tasks.record, "log", "small")
        tasks_.add_task(tasks.record, "log", "x" * LIMIT)

    return app


@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_an_oversized_argument_fails_at_add_task_and_nothing_is_enqueued(
    backend: str, redis_server_factory: RedisServerFactory
) -> None:
    broker = redis_server_factory()
    bgmigrate.configure(backend=backend, broker_url=broker.url)
    refused = pytest.raises(SerializationError, match=r"BGMIGRATE_MAX_PAYLOAD_BYTES=1048576")
    with TestClient(make_app()) as client, refused:
        client.post("/upload")
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        assert client.post("/upload").status_code == 500
    with redis.Redis.from_url(broker.url) as observer:
        assert observer.llen(DEFAULT_QUEUE) == observer.zcard("arq:queue") == 0
