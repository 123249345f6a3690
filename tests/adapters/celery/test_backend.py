"""The Celery backend's own behaviour, beyond the conformance suite."""

from __future__ import annotations

import logging
import os
import signal
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis
from kombu import Connection
from kombu.exceptions import OperationalError

import bgmigrate
from bgmigrate.adapters.celery.app_factory import broker_priority, celery_config
from bgmigrate.adapters.celery.backend import KEY_PREFIX, RESULT_PREFIX, CeleryBackend
from bgmigrate.backend import Job
from bgmigrate.errors import (
    ConfigError,
    EnqueueError,
    StatusError,
    UnsupportedOption,
)
from bgmigrate.settings import load_settings
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import (
    BackendUnderTest,
    dead_url,
    events,
    labels,
    start_backend,
)
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess

AMQP = "amqp://guest:guest@127.0.0.1:5672//"


def test_the_defaults_are_at_least_once_and_json_only() -> None:
    config = celery_config(load_settings(backend="celery", visibility_timeout=120))
    assert config["task_acks_late"]
    assert config["task_reject_on_worker_lost"]
    assert config["worker_prefetch_multiplier"] == 1
    assert config["accept_content"] == config["result_accept_content"] == ["json"]
    assert config["task_serializer"] == config["result_serializer"] == "json"
    assert config["broker_transport_options"]["visibility_timeout"] == 120
    assert not config["worker_deduplicate_successful_tasks"]  # it needs a result store


def test_a_redelivered_task_that_had_succeeded_is_skipped_when_results_are_kept() -> None:
    config = celery_config(load_settings(backend="celery", result_url="redis://127.0.0.1/1"))
    assert config["worker_deduplicate_successful_tasks"]


def test_priorities_follow_each_brokers_convention() -> None:
    on_redis = load_settings(broker_url="redis://127.0.0.1:6379/0")
    on_rabbitmq = load_settings(broker_url=AMQP)
    assert [broker_priority(on_redis, p) for p in (0, 9)] == [9, 0]  # kombu: 0 runs first
    assert [broker_priority(on_rabbitmq, p) for p in (0, 9)] == [0, 9]
    assert celery_config(on_rabbitmq)["task_queue_max_priority"] == 9


def test_results_must_be_kept_in_redis() -> None:
    with pytest.raises(ConfigError, match="keeps results in Redis"):
        CeleryBackend(load_settings(broker_url=AMQP, result_url=AMQP))


def test_an_idempotency_key_needs_redis_and_says_so_when_the_task_is_configured() -> None:
    bgmigrate.configure(backend="celery", broker_url=AMQP)
    with pytest.raises(UnsupportedOption, match="BGMIGRATE_RESULT_URL"):
        tasks.count.using(key="k")


@pytest.mark.parametrize("broker", [AMQP, "redis://127.0.0.1:6379/0"])
def test_status_without_a_result_store_names_the_setting(broker: str) -> None:
    bgmigrate.configure(backend="celery", broker_url=broker)
    backend = bgmigrate.get_runtime().backend("celery")
    with pytest.raises(UnsupportedOption, match="BGMIGRATE_RESULT_URL"):
        backend.status("x")
    with pytest.raises(UnsupportedOption, match="BGMIGRATE_RESULT_URL"):
        backend.result("x", timeout=1)


def test_an_unreachable_result_store_is_a_status_error_not_an_enqueue_error(
    redis_url: str,
) -> None:
    store = dead_url(redis_url, "s3cret")
    bgmigrate.configure(backend="celery", broker_url=redis_url, result_url=store)
    backend = bgmigrate.get_runtime().backend("celery")
    with pytest.raises(
        StatusError, match=r"cannot read task state from redis://:\*\*\*@"
    ) as raised:
        backend.status("x")
    assert not isinstance(raised.value, EnqueueError)
    assert "s3cret" not in str(raised.value)


def test_the_message_options_are_built_without_logging(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bgmigrate.configure(backend="celery", broker_url=redis_url, visibility_timeout=60)
    backend = bgmigrate.get_runtime().backend("celery")
    job = Job(task=tasks.add.using(delay=61), args=(1, 1), kwargs={})
    with caplog.at_level(logging.DEBUG, logger="bgmigrate"):
        assert backend._options(job, {}) == {"countdown": 61}  # type: ignore[attr-defined]
    assert caplog.records == []


def test_a_delay_beyond_the_visibility_timeout_is_warned_about(
    redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    bgmigrate.configure(
        backend="celery", broker_url=redis_url, visibility_timeout=60, default_queue="nobody"
    )
    with caplog.at_level(logging.WARNING, logger="bgmigrate.celery"):
        tasks.add.using(delay=30).enqueue(1, 1)
        assert "visibility timeout" not in caplog.text
        tasks.add.using(delay=61).enqueue(1, 1)
    assert "delayed 61 s, more than the Redis visibility timeout (60 s)" in caplog.text


def test_a_refused_publish_releases_the_key_it_claimed(redis_url: str) -> None:
    broker = dead_url(redis_url, "s3cret")
    bgmigrate.configure(backend="celery", broker_url=broker, result_url=redis_url)
    key = f"release-{uuid.uuid4().hex}"
    with redis.Redis.from_url(redis_url) as client:
        marks_before = len(client.keys(RESULT_PREFIX + "*"))
        with pytest.raises(EnqueueError, match=r"redis://:\*\*\*@") as raised:
            tasks.count.using(key=key).enqueue("log")
        assert client.exists(KEY_PREFIX + key) == 0
        assert len(client.keys(RESULT_PREFIX + "*")) == marks_before
    assert "s3cret" not in str(raised.value)
    assert isinstance(raised.value.__cause__, OperationalError)


@dataclass
class Worked:
    """A Celery worker started after tasks were queued for it with different priorities."""

    backend: BackendUnderTest
    priority_log: str


@pytest.fixture(scope="module")
def worked(redis_url: str) -> Iterator[Worked]:
    queue, log = f"celery-{uuid.uuid4().hex[:8]}", f"priority:{uuid.uuid4().hex}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv(tasks.REDIS_URL_ENV, redis_url)
        bgmigrate.configure(
            backend="celery", broker_url=redis_url, result_url=redis_url, default_queue=queue
        )
        for priority in (0, 9, 5):
            tasks.record.using(priority=priority).enqueue(log, str(priority))
    workers = WorkerFactory()
    yield Worked(start_backend("celery", redis_url, workers, queue=queue), log)
    workers.close()


@pytest.fixture
def worker_runtime(worked: Worked, monkeypatch: pytest.MonkeyPatch) -> WorkerProcess:
    """The runtime configured for the worker's queue; returns the worker."""
    monkeypatch.setenv(tasks.REDIS_URL_ENV, worked.backend.redis_url)
    bgmigrate.configure(**worked.backend.settings)
    assert worked.backend.worker is not None
    return worked.backend.worker


def test_higher_priority_tasks_run_first(worked: Worked, worker_runtime: WorkerProcess) -> None:
    assert labels(worked.priority_log, 3) == ["9", "5", "0"]


def test_the_worker_registers_tasks_under_their_bgmigrate_names(
    worker_runtime: WorkerProcess,
) -> None:
    for name in (tasks.add.name, tasks.arecord.name, tasks.typed.name):
        assert f". {name}\n" in worker_runtime.log()


def test_a_task_whose_worker_process_dies_is_delivered_again(
    worker_runtime: WorkerProcess,
) -> None:
    log = f"killed:{uuid.uuid4().hex}"
    tasks.hold.enqueue(log, 2.0)
    (started,) = events(log, 1)
    os.kill(started["pid"], signal.SIGKILL)  # the pool process, as the OOM killer would
    finished = [e for e in events(log, 3) if e["label"] == "finished"]
    assert [e["label"] for e in events(log, 3)] == ["started", "started", "finished"]
    assert finished[0]["pid"] != started["pid"]


def test_a_batch_for_several_queues_reaches_every_queue() -> None:
    # On RabbitMQ a message for a queue nobody declared is dropped: a batch declares each of its
    # queues once, before the first message for it (Redis would route by name regardless).
    suffix = uuid.uuid4().hex[:8]
    one, two, default = f"q-one-{suffix}", f"q-two-{suffix}", f"q-default-{suffix}"
    runtime = bgmigrate.configure(backend="celery", broker_url=AMQP, default_queue=default)
    targets = [one, two, one, None, two]
    jobs = [
        runtime.prepare(tasks.record.using(queue=queue), ("batch", str(n)), {})[1]
        for n, queue in enumerate(targets)
    ]
    runtime.backend("celery").enqueue(jobs)
    with Connection(AMQP) as connection:
        channel = connection.default_channel
        try:
            counts = {
                name: channel.queue_declare(name, passive=True).message_count
                for name in (one, two, default)
            }
        finally:
            for name in (one, two, default):
                connection.default_channel.queue_delete(name)
    assert counts == {one: 2, two: 2, default: 1}
