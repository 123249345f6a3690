"""The failed-job store in a real Redis: records, bounds, retry and discard, dead letters.

The backends' workers fill it in ``tests/adapters/test_failed_jobs.py``; here records are
written with :func:`keep` directly, as a worker does.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator

import pytest
import redis

import bgmigrate
from bgmigrate.adapters import dead_letter as dl
from bgmigrate.errors import BgmigrateError, ConfigError, UnknownJobError
from bgmigrate.failed_jobs import (
    INDEX_KEY,
    MESSAGE_CHARS,
    PAYLOAD_BYTES,
    RECORDS_KEY,
    TRACEBACK_CHARS,
    FailedJob,
    FailedJobs,
    describe_args,
    failed_job,
    keep,
    keeps_failed_jobs,
    store_url,
)
from bgmigrate.settings import Settings, load_settings
from bgmigrate.testing import conformance_tasks as tasks


@pytest.fixture
def settings(redis_url: str) -> Iterator[Settings]:
    """Settings whose failed-job store is the test database, emptied before and after."""
    with redis.Redis.from_url(redis_url) as client:
        client.delete(INDEX_KEY, RECORDS_KEY, dl.DEAD_LETTER_KEY)
        yield load_settings(failed_jobs_url=redis_url, broker_url=redis_url, failed_jobs_max=3)
        client.delete(INDEX_KEY, RECORDS_KEY, dl.DEAD_LETTER_KEY)


def _failure(job_id: str, *, task: str = tasks.add.name, error: str = "no") -> FailedJob:
    call = ((1,), {"b": 2})
    payload = {"args": [1], "kwargs": {"b": 2}}
    return failed_job(job_id, task, "arq", call, ValueError(error), 3, payload, 1.0)


def test_a_record_carries_the_task_arguments_error_traceback_attempts_and_times(
    settings: Settings,
) -> None:
    try:
        raise ValueError("card declined")
    except ValueError as exc:
        record = failed_job("j1", "app.pay", "celery", (("x" * 500,), {"n": 1}), exc, 2, None)
    keep(settings, record)
    kept = FailedJobs(settings).get("j1")
    assert kept == record
    assert (kept.task, kept.backend, kept.attempts) == ("app.pay", "celery", 2)
    assert (kept.error_type, kept.error) == ("builtins.ValueError", "card declined")
    assert "raise ValueError" in kept.traceback
    assert kept.args == describe_args(("x" * 500,), {"n": 1})
    assert len(kept.args) < 100  # cut as the logs cut it
    assert kept.enqueued_at is None
    assert abs(kept.failed_at - time.time()) < 60


def test_each_record_is_bounded() -> None:
    huge = {"args": ["x" * PAYLOAD_BYTES], "kwargs": {}}
    error = ValueError("m" * (MESSAGE_CHARS * 2))
    record = failed_job("j", "t", "arq", ((), {}), error, 1, huge)
    assert len(record.error) == MESSAGE_CHARS
    assert len(record.traceback) <= TRACEBACK_CHARS
    assert record.payload is None
    assert not record.retryable


def test_the_oldest_records_are_dropped_past_the_max(settings: Settings) -> None:
    for number in range(5):
        keep(settings, _failure(f"j{number}"))
    assert [job.id for job in FailedJobs(settings).list()] == ["j2", "j3", "j4"]
    with redis.Redis.from_url(settings.failed_jobs_url or "") as client:
        assert client.hlen(RECORDS_KEY) == 3


def test_records_older_than_the_ttl_are_not_listed_and_dropped_on_the_next_failure(
    settings: Settings,
) -> None:
    short = settings.model_copy(update={"failed_jobs_ttl": 60})
    old = _failure("old")
    keep(short, dataclasses.replace(old, failed_at=time.time() - 120))
    assert FailedJobs(short).list() == []
    keep(short, _failure("new"))
    with redis.Redis.from_url(settings.failed_jobs_url or "") as client:
        assert client.hkeys(RECORDS_KEY) == [b"new"]


def test_a_max_of_zero_keeps_nothing(settings: Settings) -> None:
    keep(settings.model_copy(update={"failed_jobs_max": 0}), _failure("j"))
    assert FailedJobs(settings).list() == []


def test_list_filters_by_task_and_time(settings: Settings) -> None:
    keep(settings, _failure("a", task="t.one"))
    middle = time.time()
    keep(settings, _failure("b", task="t.two"))
    store = FailedJobs(settings)
    assert [job.id for job in store.list(task="t.one")] == ["a"]
    assert [job.id for job in store.list(since=middle)] == ["b"]


def test_discard_is_final_and_says_whether_it_removed_anything(settings: Settings) -> None:
    keep(settings, _failure("a"))
    keep(settings, _failure("b", task="t.other"))
    store = FailedJobs(settings)
    assert store.discard("a")
    assert not store.discard("a")
    with pytest.raises(UnknownJobError, match="'a'"):
        store.get("a")
    assert store.discard_all(task="t.other") == 1
    assert store.list() == []


def test_a_retry_enqueues_the_task_with_its_arguments_and_removes_the_record(
    settings: Settings,
) -> None:
    keep(settings, _failure("a"))
    handle = FailedJobs(settings).retry("a")
    assert handle.id != "a"
    assert handle.result(timeout=10) == 3
    assert FailedJobs(settings).list() == []


def test_a_record_without_arguments_or_task_cannot_be_retried_and_is_kept(
    settings: Settings,
) -> None:
    keep(settings, failed_job("big", tasks.add.name, "arq", ((), {}), ValueError(), 1, None))
    keep(settings, _failure("unknown", task="not.registered"))
    store = FailedJobs(settings)
    with pytest.raises(BgmigrateError, match="cannot be retried"):
        store.retry("big")
    with pytest.raises(ConfigError, match="BGMIGRATE_TASK_MODULES"):
        store.retry("unknown")
    assert [job.id for job in store.list()] == ["big", "unknown"]


def test_dead_letters_are_read_through_the_same_store(settings: Settings) -> None:
    with redis.Redis.from_url(settings.broker_url) as client:
        dl.store(client, dl.dead_letter("celery", "q", "bad headers", b"{}"))
    assert [letter.reason for letter in FailedJobs(settings).dead_letters()] == ["bad headers"]


def test_an_unreachable_store_is_logged_by_workers_and_raised_to_readers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = load_settings(failed_jobs_url="redis://:secret@127.0.0.1:1/0")
    keep(down, _failure("lost"))
    assert "could not keep failed job lost in redis://:***@127.0.0.1:1/0" in caplog.text
    with pytest.raises(BgmigrateError, match=r"redis://:\*\*\*@127.0.0.1:1/0 is unreachable"):
        FailedJobs(down).list()


def test_the_store_is_the_setting_else_a_redis_broker_and_in_process_needs_the_setting() -> None:
    redis_broker = load_settings(broker_url="redis://h:6379/0")
    assert store_url(redis_broker, "arq") == "redis://h:6379/0"
    assert store_url(redis_broker, "inprocess") is None
    amqp = load_settings(broker_url="amqp://h//", result_url="redis://r:6379/1")
    assert store_url(amqp, "celery") == "redis://r:6379/1"
    assert store_url(load_settings(broker_url="amqp://h//"), "celery") is None
    chosen = load_settings(failed_jobs_url="redis://f:6379/2")
    assert store_url(chosen, "inprocess") == "redis://f:6379/2"
    with pytest.raises(ConfigError, match="BGMIGRATE_FAILED_JOBS_URL"):
        FailedJobs(load_settings(broker_url="amqp://h//"))


def test_the_store_url_must_be_redis() -> None:
    with pytest.raises(ConfigError, match="BGMIGRATE_FAILED_JOBS_URL: 'amqp://h//' is not a Redis"):
        load_settings(failed_jobs_url="amqp://h//")


def test_the_package_reads_the_store_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, redis_url: str
) -> None:
    monkeypatch.setenv("BGMIGRATE_FAILED_JOBS_URL", redis_url)
    assert bgmigrate.failed_jobs().url == redis_url


def test_a_backend_keeps_failed_jobs_only_with_a_store_and_a_max_above_zero() -> None:
    assert keeps_failed_jobs(load_settings(broker_url="redis://h:6379/0"), "celery")
    assert not keeps_failed_jobs(load_settings(broker_url="redis://h:6379/0"), "inprocess")
    assert not keeps_failed_jobs(
        load_settings(failed_jobs_url="redis://h/0", failed_jobs_max=0), "arq"
    )
