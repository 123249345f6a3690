"""The ARQ backend's own behaviour, beyond the conformance suite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, cast

import anyio
import pytest
import redis
from arq.worker import Worker
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.adapters.arq.backend import CLIENT_NAME, RELAY_RUN, ArqBackend
from bgmigrate.adapters.arq.wire import dumps, load_job
from bgmigrate.adapters.arq.worker import (
    ARQ_MAX_TRIES,
    _check_tries,
    build_worker_settings,
    make_worker,
)
from bgmigrate.adapters.worker_options import WorkerOptions
from bgmigrate.backend import Job, TaskBackend, TaskHandle
from bgmigrate.errors import (
    ConfigError,
    EnqueueError,
    SerializationError,
    StatusError,
    UnknownJobError,
    UnsupportedOption,
)
from bgmigrate.registry import registry
from bgmigrate.settings import Settings, load_settings
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import dead_url
from bgmigrate.testing.conformance_app import make_app
from bgmigrate.testing.redis_servers import RedisServerFactory
from tests.adapters.relayed import relayed_jobs, wait_for_refusals


def test_the_arq_backend_refuses_a_broker_that_is_not_redis() -> None:
    with pytest.raises(ConfigError, match=r"needs Redis, got 'amqp://guest:\*\*\*@h/'"):
        ArqBackend(load_settings(broker_url="amqp://guest:secret@h/"))


def test_priority_is_refused_when_the_task_is_configured() -> None:
    bgmigrate.configure(backend="arq")
    with pytest.raises(UnsupportedOption, match="priority"):
        tasks.add.using(priority=5)


def test_an_unreachable_redis_is_an_enqueue_error_with_the_password_redacted() -> None:
    url = dead_url("redis://127.0.0.1:6379/0", "s3cret")
    bgmigrate.configure(backend="arq", broker_url=url)
    with pytest.raises(EnqueueError, match=r"redis://:\*\*\*@127\.0\.0\.1") as raised:
        tasks.add.enqueue(1, 2)
    assert "s3cret" not in str(raised.value)
    assert isinstance(raised.value.__cause__, redis.ConnectionError)


def test_an_unreachable_redis_is_a_status_error_not_an_enqueue_error() -> None:
    url = dead_url("redis://127.0.0.1:6379/0", "s3cret")
    bgmigrate.configure(backend="arq", broker_url=url)
    with pytest.raises(
        StatusError, match=r"cannot read task state from redis://:\*\*\*@"
    ) as raised:
        TaskHandle("any", bgmigrate.get_runtime().backend("arq")).status()
    assert not isinstance(raised.value, EnqueueError)
    assert "s3cret" not in str(raised.value)


def test_one_connection_pool_serves_every_request_of_the_app(
    redis_server_factory: RedisServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = redis_server_factory()
    monkeypatch.setenv(tasks.REDIS_URL_ENV, server.url)
    bgmigrate.configure(backend="arq", broker_url=server.url, default_queue="unconsumed")
    with redis.Redis.from_url(server.url) as observer, TestClient(make_app()) as client:
        for _ in range(5):
            assert client.post("/orders/log").status_code == 200
        names = [c["name"] for c in observer.client_list()]
        assert names.count(CLIENT_NAME) == 1
        assert observer.zcard("unconsumed") == 15


@pytest.fixture
def relaying(redis_server_factory: RedisServerFactory) -> Iterator[tuple[TaskBackend, redis.Redis]]:
    """An ARQ backend on a private Redis and a client of that Redis; the backend closed after."""
    url = redis_server_factory().url
    backend = bgmigrate.configure(backend="arq", broker_url=url).backend("arq")
    with redis.Redis.from_url(url) as client:
        yield backend, client
    asyncio.run(backend.close())


def _queued(client: redis.Redis) -> list[str]:
    members = cast(list[bytes], client.zrange("arq:queue", 0, -1))
    return [member.decode() for member in members]


def test_the_relay_writes_a_large_batch_in_several_calls_that_keep_its_order(
    relaying: tuple[TaskBackend, redis.Redis],
) -> None:
    backend, client = relaying
    jobs = relayed_jobs(2 * RELAY_RUN + 1)
    client.config_resetstat()
    backend.relay(jobs)
    backend.relay(jobs)  # published again (a relay that died before its commit): no change
    commands = cast(dict[str, Any], client.info("commandstats"))
    assert commands["cmdstat_eval"]["calls"] == 6
    assert commands["cmdstat_psetex"]["calls"] == len(jobs)
    assert _queued(client) == [job.id for job in jobs]


def test_a_relayed_batch_that_redis_refuses_is_an_enqueue_error_and_the_next_is_written(
    relaying: tuple[TaskBackend, redis.Redis],
) -> None:
    backend, client = relaying
    jobs = relayed_jobs(2 * RELAY_RUN + 1)
    client.config_set("maxmemory", 1)  # with no eviction policy, every write is refused
    client.config_resetstat()
    with pytest.raises(EnqueueError, match=r"did not accept 501 task\(s\).*OutOfMemoryError"):
        backend.relay(jobs)
    wait_for_refusals(client, 3)
    assert _queued(client) == []
    client.config_set("maxmemory", 0)
    backend.relay(jobs)  # on a new connection: the refused calls' replies are not read
    assert _queued(client) == [job.id for job in jobs]


def test_a_relayed_batch_that_fails_to_build_leaves_no_reply_for_the_next(
    relaying: tuple[TaskBackend, redis.Redis],
) -> None:
    backend, client = relaying
    jobs = relayed_jobs(RELAY_RUN + 1)
    broken = Job(task=tasks.add, args=(), kwargs={}, payload={"args": [object()], "kwargs": {}})
    with pytest.raises(SerializationError):
        backend.relay([*jobs[:RELAY_RUN], broken])  # its first call was sent, then it failed
    client.config_set("maxmemory", 1)  # with no eviction policy, every write is refused
    with pytest.raises(EnqueueError, match="OutOfMemoryError"):
        backend.relay(jobs[RELAY_RUN:])  # its own reply is read, not the first call's


def test_waiting_for_a_result_that_does_not_come_times_out(redis_url: str) -> None:
    bgmigrate.configure(backend="arq", broker_url=redis_url, default_queue="nobody-consumes")
    handle = tasks.add.enqueue(1, 2)
    with pytest.raises(TimeoutError, match=r"not finished in 0\.1 s"):
        handle.result(timeout=0.1)
    with pytest.raises(UnknownJobError, match="no arq job"):
        TaskHandle("never-enqueued", handle.backend).result(timeout=1)

    async def async_wait() -> None:
        await handle.aresult(timeout=0.1)

    with pytest.raises(TimeoutError):
        anyio.run(async_wait)


def test_worker_settings_name_every_task_and_speak_json_only() -> None:
    settings_cls = build_worker_settings(
        load_settings(backend="arq", default_queue="q"), options=WorkerOptions(concurrency=3)
    )
    names = {function.name for function in settings_cls.functions}  # type: ignore[attr-defined]
    assert names == {task.name for task in registry}
    assert settings_cls.job_serializer is dumps  # type: ignore[attr-defined]
    assert settings_cls.job_deserializer is load_job  # type: ignore[attr-defined]
    assert settings_cls.queue_name == "q"  # type: ignore[attr-defined]
    assert settings_cls.max_jobs == 3  # type: ignore[attr-defined]


def test_the_retry_policy_of_each_call_bounds_its_tries() -> None:
    settings_cls = build_worker_settings(load_settings(backend="arq"))
    by_name = {f.name: f for f in settings_cls.functions}  # type: ignore[attr-defined]
    # A call may carry more attempts than the registered policy: arq's own bound stays open...
    assert by_name[tasks.flaky.name].max_tries == ARQ_MAX_TRIES
    # ...and the job function bounds each job: attempts + spare tries for shutdown re-runs.
    _check_tries(tasks.flaky, 3 + 2)
    with pytest.raises(RuntimeError, match="max 5 tries exceeded"):
        _check_tries(tasks.flaky, 3 + 2 + 1)
    assert by_name[tasks.slow_async.name].timeout_s == 0.5 + 5  # arq's backstop after ours


def _worker_of(settings: Settings) -> Worker:
    worker = make_worker(settings)
    # Constructing it made an event loop with signal handlers; the test only reads attributes.
    worker.loop.close()
    asyncio.set_event_loop(None)
    return worker


def test_bgmigrate_workers_mark_jobs_in_progress_for_the_configured_time() -> None:
    worker = _worker_of(load_settings(backend="arq", in_progress_timeout=2.5, drain_timeout=4.2))
    assert worker.in_progress_timeout_s == 2.5
    assert worker._job_completion_wait == 5  # SIGTERM: running jobs get DRAIN_TIMEOUT, rounded up
    assert _worker_of(load_settings(backend="arq")).in_progress_timeout_s == 310  # arq's own
