"""How long a Celery worker holds a task's message, against the Redis visibility timeout."""

from __future__ import annotations

import logging

import pytest

from bgmigrate.adapters.redelivery import held_for, redelivered, warn_if_redelivered
from bgmigrate.retry import RetryPolicy
from bgmigrate.settings import load_settings
from bgmigrate.task import Task
from bgmigrate.testing import conformance_tasks as tasks


def _sync(seconds: float | None, retry: RetryPolicy | None = None) -> Task[[int, int], int]:
    return tasks.add.using(timeout=seconds, retry=retry)


def test_a_task_without_timeout_is_not_bounded() -> None:
    assert held_for(_sync(None)) is None


def test_a_sync_attempt_is_held_up_to_its_hard_time_limit() -> None:
    assert held_for(_sync(100)) == 100 + 5


def test_an_async_attempt_gets_the_loop_grace_too() -> None:
    assert held_for(tasks.arecord.using(timeout=100)) == 100 + 1 + 5


def test_a_retry_is_held_until_its_countdown_then_run() -> None:
    # The last wait of 4 attempts: backoff 10 doubled twice = 40 s, within max_delay.
    assert held_for(_sync(100, RetryPolicy(max_attempts=4, backoff=10))) == 40 + 105
    capped = RetryPolicy(max_attempts=10, backoff=10, max_delay=60)
    assert held_for(_sync(100, capped)) == 60 + 105
    assert held_for(_sync(100, RetryPolicy(max_attempts=1, backoff=10))) == 105


def test_only_tasks_held_longer_than_the_visibility_timeout_are_named() -> None:
    held = {"b": 4000.0, "a": 3600.0, "c": None, "d": 9000.0}
    assert redelivered(3600, held) == {"b": 4000.0, "d": 9000.0}


def test_no_warning_for_a_broker_without_visibility_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    amqp = load_settings(broker_url="amqp://guest:guest@127.0.0.1:5672//", visibility_timeout=1)
    with caplog.at_level(logging.WARNING):
        warn_if_redelivered(amqp, [_sync(100)])
    assert caplog.text == ""
