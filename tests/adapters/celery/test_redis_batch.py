"""A Celery batch on a Redis broker: one MULTI/EXEC round trip, all or nothing."""

from __future__ import annotations

from typing import Any, cast

import pytest
import redis

import bgmigrate
from bgmigrate.backend import Job
from bgmigrate.errors import SerializationError
from bgmigrate.runtime import Runtime
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.redis_servers import RedisServer, RedisServerFactory


@pytest.fixture
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    return redis_server_factory()


def _jobs(runtime: Runtime, count: int) -> list[Job]:
    return [runtime.prepare(tasks.add, (i, i), {})[1] for i in range(count)]


def _calls(client: redis.Redis, command: str) -> int:
    commands = cast(dict[str, Any], client.info("commandstats"))
    stats = commands.get(f"cmdstat_{command}", {"calls": 0})
    return int(stats["calls"])


def test_ten_messages_are_pushed_in_one_transaction(
    server: RedisServer,
) -> None:
    runtime = bgmigrate.configure(backend="celery", broker_url=server.url, default_queue="q")
    backend = runtime.backend("celery")
    backend.enqueue(_jobs(runtime, 1))  # declares the queue once, as any first publish does
    with redis.Redis.from_url(server.url) as client:
        client.config_resetstat()
        backend.enqueue(_jobs(runtime, 10))
        assert _calls(client, "exec") == 1
        assert _calls(client, "lpush") == 10
        assert _calls(client, "smembers") <= 1  # exchange bindings: read once, if at all
        assert client.llen("q") == 11


def test_a_batch_that_fails_to_publish_enqueues_nothing(server: RedisServer) -> None:
    runtime = bgmigrate.configure(backend="celery", broker_url=server.url, default_queue="q")
    backend = runtime.backend("celery")
    backend.enqueue(_jobs(runtime, 1))
    jobs = _jobs(runtime, 3)
    broken = Job(task=tasks.add, args=(), kwargs={}, payload={"args": [object()], "kwargs": {}})
    with pytest.raises(SerializationError, match="could not be encoded"):
        backend.enqueue([*jobs, broken])
    with redis.Redis.from_url(server.url) as client:
        assert client.llen("q") == 1
