"""What a worker decides after an attempt fails: retry (and when), or fail the task.

Shared by the Celery and ARQ workers, so that a task's ``RetryPolicy`` and ``timeout`` mean the
same on both.
"""

from __future__ import annotations

import logging
from typing import Any

from bgmigrate.task import Task

logger = logging.getLogger("bgmigrate.worker")


def retry_delay(task: Task[Any, Any], exc: Exception, attempt: int) -> float | None:
    """Seconds before the next attempt of ``task`` after ``exc`` on attempt ``attempt``
    (1-based), or ``None`` when the task fails now."""
    policy = task.options.retry
    if policy is None or not policy.should_retry(exc, attempt):
        return None
    delay = policy.delay_for(attempt)
    logger.warning(
        "task %s failed on attempt %d/%d (%r); retrying in %.2f s",
        task.name,
        attempt,
        policy.max_attempts,
        exc,
        delay,
    )
    return delay


def timed_out(task: Task[Any, Any]) -> TimeoutError:
    """The error an attempt of ``task`` fails with when it exceeds its ``timeout``."""
    return TimeoutError(f"attempt exceeded the timeout of {task.options.timeout:g} s")
