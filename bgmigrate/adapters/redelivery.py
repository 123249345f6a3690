"""Celery on Redis: how long a worker may hold a task's message, against the visibility timeout.

kombu's Redis transport re-delivers a message that a worker has held unacknowledged longer than
``visibility_timeout``, whether that worker died or is still running the task: a task that may
run longer is delivered twice. bgmigrate acknowledges late (after the run), and a retry is a new
message held until its countdown is due and then run, so one message is held up to the retry
wait plus the attempt's hard time limit.

bgmigrate does not raise the visibility timeout by itself: it is one value for every worker on
the broker (any of them restores any message held too long, so one worker raising it alone
protects nothing), and it is also how long the tasks of a crashed worker wait before they run
again; trading that for one long task is the user's decision. It warns instead (worker start-up,
``bgmigrate doctor``, ``rewrite``) with the value to set. Nothing here imports Celery.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from typing import Any

from bgmigrate.retry import RetryPolicy
from bgmigrate.settings import Settings
from bgmigrate.task import Task
from bgmigrate.urls import is_redis_url

logger = logging.getLogger("bgmigrate.celery")

HARD_LIMIT_GRACE = 5.0
"""Seconds past the soft limit before Celery kills the process running an attempt."""
ASYNC_SOFT_GRACE = 1.0
"""Async attempts time out on their loop first; the soft limit is a backstop this much later."""


def _limits(timeout: float, *, is_async: bool) -> dict[str, float]:
    soft = timeout + ASYNC_SOFT_GRACE if is_async else timeout
    return {"soft_time_limit": soft, "time_limit": soft + HARD_LIMIT_GRACE}


def time_limits(task: Task[Any, Any]) -> dict[str, float]:
    """Celery's soft and hard time limits for ``task``'s timeout (none without one)."""
    timeout = task.options.timeout
    return {} if timeout is None else _limits(timeout, is_async=task.is_async)


def held_seconds(timeout: float, *, is_async: bool, retry: RetryPolicy | None) -> float:
    """The longest a worker holds one message of a task with these options unacknowledged, in
    seconds: the longest wait before a retry plus the attempt's hard time limit."""
    wait = 0.0
    if retry is not None and retry.max_attempts > 1:
        wait = min(retry.max_delay, retry.backoff * 2.0 ** (retry.max_attempts - 2))
    return wait + _limits(timeout, is_async=is_async)["time_limit"]


def held_for(task: Task[Any, Any]) -> float | None:
    """:func:`held_seconds` for ``task`` (``None``: it has no timeout, so no bound)."""
    timeout = task.options.timeout
    if timeout is None:
        return None
    return held_seconds(timeout, is_async=task.is_async, retry=task.options.retry)


def redelivered(visibility_timeout: int, held: Mapping[str, float | None]) -> dict[str, float]:
    """The tasks (name -> seconds held) that may be held longer than ``visibility_timeout``."""
    return {
        name: seconds
        for name, seconds in sorted(held.items())
        if seconds is not None and seconds > visibility_timeout
    }


def visibility_fix(over: Mapping[str, float]) -> str:
    """What to do about the tasks in ``over`` (from :func:`redelivered`)."""
    needed = math.ceil(max(over.values()))
    return (
        f"set BGMIGRATE_VISIBILITY_TIMEOUT={needed} (or more) for the app and every worker, "
        "or lower the timeout= of these tasks; a higher value also delays the re-delivery of a "
        "crashed worker's tasks (docs/operations.md)"
    )


def applies(settings: Settings) -> bool:
    """Whether a visibility timeout re-delivers Celery's messages (a Redis broker)."""
    return is_redis_url(settings.broker_url)


def warn_if_redelivered(settings: Settings, tasks: Iterable[Task[Any, Any]]) -> None:
    """Log a warning naming every task a Celery worker on Redis may run twice."""
    if not applies(settings):
        return
    over = redelivered(settings.visibility_timeout, {t.name: held_for(t) for t in tasks})
    if over:
        names = ", ".join(f"{name} (up to {seconds:.0f} s)" for name, seconds in over.items())
        logger.warning(
            "tasks may run longer than the Redis visibility timeout (%d s), and a run that "
            "long is delivered again and runs twice: %s. Fix: %s",
            settings.visibility_timeout,
            names,
            visibility_fix(over),
        )
