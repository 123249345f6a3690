"""Redis is killed under a running worker and comes back on the same port: the worker outlives
it, says so in its log, and runs what is enqueued afterwards.

The broker is a private ``redis-server``; results and the tasks' own log live in the test
Redis, which stays up.
"""

from __future__ import annotations

import time

import pytest
import redis

import bgmigrate
from bgmigrate.errors import EnqueueError
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import WAIT, start_backend
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServerFactory, answers
from bgmigrate.testing.workers import WorkerFactory, bgmigrate_command

DOWN_FOR = 2.0
"""Seconds the broker stays down."""
OUTAGE_LOGGED = {
    "arq": r"Redis is unreachable",
    "celery": r"Connection to broker lost|Cannot connect to redis",
}
"""What each worker logs when it notices the broker is gone."""


@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_a_worker_rides_out_a_redis_restart_and_runs_what_is_enqueued_after_it(
    backend: str,
    redis_url: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = redis_server_factory()
    argv = bgmigrate_command(backend, concurrency=1)
    under_test = start_backend(backend, redis_url, worker_factory, broker_url=broker.url, argv=argv)
    worker = under_test.worker
    assert worker is not None
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    bgmigrate.configure(**under_test.settings)
    assert tasks.add.enqueue(1, 2).result(timeout=WAIT) == 3

    broker.kill()
    killed = time.monotonic()
    worker.wait_for_log(OUTAGE_LOGGED[backend])
    with pytest.raises(EnqueueError):
        tasks.add.enqueue(2, 2)
    wait_until(
        lambda: time.monotonic() - killed >= DOWN_FOR and worker.alive,
        timeout=WAIT,
        what=f"{DOWN_FOR} s of outage with the worker still running",
    )
    broker.start()
    assert answers(broker.url)

    handle = tasks.add.enqueue(3, 4)
    assert handle.result(timeout=WAIT) == 7
    assert worker.alive
    if backend == "arq":
        worker.wait_for_log("Redis is reachable again")
    with redis.Redis.from_url(broker.url) as client:
        assert client.ping()
