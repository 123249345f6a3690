"""One attempt of a task, and what a worker decides after it fails: retry (and when), or fail.

Shared by the in-process backend and the Celery and ARQ workers, so that a task's
``RetryPolicy`` and ``timeout`` mean the same on every backend.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

from bgmigrate.task import Task, is_async_callable

logger = logging.getLogger("bgmigrate.worker")


def _started() -> None:
    """The default ``on_start`` of :func:`run_attempt`: nothing to record."""


async def run_attempt(
    task: Task[Any, Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    executor: Executor,
    *,
    on_start: Callable[[], None] = _started,
) -> Any:
    """Run one attempt of ``task(*args, **kwargs)`` within the task's ``timeout``.

    An async function runs on this loop; a sync one runs on ``executor`` with a copy of this
    context's contextvars. ``on_start`` is called when the attempt starts running: at once for
    an async function, once a thread has picked up a sync one. Past the timeout the attempt
    raises :func:`timed_out`'s ``TimeoutError``.
    """
    func, timeout = task.func, task.options.timeout

    def call() -> Any:
        on_start()
        return func(*args, **kwargs)

    if is_async_callable(func):
        running: Awaitable[Any] = call()
    else:
        # A sync function cannot be interrupted: on timeout the attempt fails and the thread
        # finishes on its own, its result discarded.
        loop = asyncio.get_running_loop()
        running = loop.run_in_executor(executor, contextvars.copy_context().run, call)
    try:
        result = await asyncio.wait_for(running, timeout)
        if inspect.isawaitable(result):
            # A sync callable that returns a coroutine (e.g. ``lambda: send(x)``): Starlette
            # would never await it and the work would silently not happen.
            result = await asyncio.wait_for(result, timeout)
    except TimeoutError as exc:
        if timeout is None:
            raise
        raise timed_out(task) from exc
    return result


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
