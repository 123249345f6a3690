"""One attempt of a task, and what a worker decides after it fails: retry (and when), or fail.

Shared by the in-process backend and the Celery and ARQ workers, so that a task's
``RetryPolicy`` and ``timeout`` mean the same on every backend. Where a sync function runs is the
caller's choice, a :data:`SyncRunner`: AnyIO's worker threads under a limiter (the in-process
backend, as Starlette runs ``BackgroundTasks``) or a thread pool (the ARQ worker).
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor
from typing import Any

import anyio
import anyio.to_thread

from bgmigrate.task import Task, is_async_callable

logger = logging.getLogger("bgmigrate.worker")

SyncRunner = Callable[[Callable[[], Any]], Awaitable[Any]]
"""Runs a sync call on a thread, off the event loop, with the caller's contextvars, and awaits
its result; cancelling the await stops waiting for the thread (which finishes on its own)."""

# anyio 4.1 renamed ``cancellable`` to ``abandon_on_cancel``, and older FastAPI releases pin
# anyio 3.
_ABANDON_ON_CANCEL = {
    "abandon_on_cancel"
    if "abandon_on_cancel" in inspect.signature(anyio.to_thread.run_sync).parameters
    else "cancellable": True
}


def in_worker_thread(limiter: anyio.CapacityLimiter | None) -> SyncRunner:
    """A :data:`SyncRunner` on AnyIO's worker threads, holding a token of ``limiter`` (``None``:
    AnyIO's default limiter, the one Starlette's ``run_in_threadpool`` takes) while it runs."""

    async def run(call: Callable[[], Any]) -> Any:
        # AnyIO runs the call in a copy of this context and, when cancelled, gives the token
        # back at once.
        return await anyio.to_thread.run_sync(call, limiter=limiter, **_ABANDON_ON_CANCEL)

    return run


def in_executor(executor: Executor) -> SyncRunner:
    """A :data:`SyncRunner` on ``executor``'s threads."""

    async def run(call: Callable[[], Any]) -> Any:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, contextvars.copy_context().run, call)

    return run


def _started() -> None:
    """The default ``on_start`` of :func:`run_attempt`: nothing to record."""


async def run_attempt(
    task: Task[Any, Any],
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    run_sync: SyncRunner,
    *,
    on_start: Callable[[], None] = _started,
) -> Any:
    """Run one attempt of ``task(*args, **kwargs)`` within the task's ``timeout``.

    An async function runs on this loop; a sync one through ``run_sync``. ``on_start`` is called
    when the attempt starts running: at once for an async function, once a thread has picked up
    a sync one. Past the timeout the attempt raises :func:`timed_out`'s ``TimeoutError``.
    """
    func, timeout = task.func, task.options.timeout

    def call() -> Any:
        on_start()
        return func(*args, **kwargs)

    # A sync function cannot be interrupted: on timeout the attempt fails and the thread
    # finishes on its own, its result discarded.
    running: Awaitable[Any] = call() if is_async_callable(func) else run_sync(call)
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
