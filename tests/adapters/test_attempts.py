"""After a failed attempt on a worker: retry when the policy allows it, else fail."""

from __future__ import annotations

import logging

import pytest

from bgmigrate.adapters.attempts import retry_delay, timed_out
from bgmigrate.testing import conformance_tasks as tasks


def test_a_task_without_a_policy_fails_at_once() -> None:
    assert retry_delay(tasks.boom, ValueError("x"), attempt=1) is None


def test_the_policy_gives_the_delay_and_the_retry_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bgmigrate.worker"):
        assert retry_delay(tasks.flaky, ConnectionError("x"), attempt=2) == pytest.approx(0.1)
    assert "failed on attempt 2/3" in caplog.text


def test_the_last_attempt_is_not_retried() -> None:
    assert retry_delay(tasks.flaky, ConnectionError("x"), attempt=3) is None


def test_a_timeout_names_the_limit() -> None:
    assert str(timed_out(tasks.slow_sync)) == "attempt exceeded the timeout of 0.5 s"
