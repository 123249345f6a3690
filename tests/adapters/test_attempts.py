"""One attempt of a task, and after a failed one: retry when the policy allows it, else fail."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import anyio.from_thread
import pytest

from bgmigrate.adapters.attempts import (
    in_executor,
    in_worker_thread,
    retry_delay,
    run_attempt,
    timed_out,
)
from bgmigrate.task import Task
from bgmigrate.task_options import TaskOptions
from bgmigrate.testing import conformance_tasks as tasks

WAIT = 10  # seconds: generous upper bound for anything a test waits on
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")
release = threading.Event()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="attempt-test")
    yield executor
    release.set()  # never leave a pool thread blocked
    executor.shutdown(wait=True)
    release.clear()


def _task(func: Callable[..., Any], timeout: float | None = None) -> Task[Any, Any]:
    return Task(func=func, name=f"test.{func.__name__}", options=TaskOptions(timeout=timeout))


def _where() -> tuple[str, str]:
    return request_id.get(), threading.current_thread().name


async def _await_where() -> tuple[str, str]:
    return _where()


def _blocked() -> None:
    release.wait(WAIT)


async def _ablocked() -> None:
    await asyncio.sleep(WAIT)


async def _attempt_with_context(
    func: Callable[..., Any], pool: ThreadPoolExecutor, started: list[str]
) -> Any:
    request_id.set("r-1")
    return await run_attempt(
        _task(func), (), {}, in_executor(pool), on_start=lambda: started.append(_where()[1])
    )


def test_a_sync_attempt_runs_on_the_pool_with_the_callers_contextvars(
    pool: ThreadPoolExecutor,
) -> None:
    started: list[str] = []
    value, thread = asyncio.run(_attempt_with_context(_where, pool, started))
    assert (value, thread) == ("r-1", started[0])
    assert thread.startswith("attempt-test")


def test_an_async_attempt_runs_on_the_loop(pool: ThreadPoolExecutor) -> None:
    started: list[str] = []
    value, thread = asyncio.run(_attempt_with_context(_await_where, pool, started))
    assert (value, thread) == ("r-1", threading.current_thread().name)
    assert started == [thread]


def test_a_sync_callable_returning_a_coroutine_is_awaited(pool: ThreadPoolExecutor) -> None:
    started: list[str] = []
    value, _ = asyncio.run(_attempt_with_context(lambda: _await_where(), pool, started))
    assert value == "r-1"


@pytest.mark.parametrize("func", [_blocked, _ablocked], ids=["sync", "async"])
def test_an_attempt_over_its_timeout_fails_naming_the_limit(
    func: Callable[[], Any], pool: ThreadPoolExecutor
) -> None:
    with pytest.raises(TimeoutError, match=r"exceeded the timeout of 0\.05 s"):
        asyncio.run(run_attempt(_task(func, timeout=0.05), (), {}, in_executor(pool)))


async def _attempt_on_anyio_threads(
    func: Callable[..., Any], limiter: anyio.CapacityLimiter, timeout: float | None = None
) -> Any:
    request_id.set("r-2")
    return await run_attempt(_task(func, timeout), (), {}, in_worker_thread(limiter))


def _where_and_tokens(limiter: anyio.CapacityLimiter) -> tuple[str, str, int]:
    tokens = anyio.from_thread.run_sync(lambda: limiter.borrowed_tokens)
    return (*_where(), tokens)


def test_a_sync_attempt_on_anyio_threads_holds_a_token_of_its_limiter() -> None:
    async def main() -> tuple[tuple[str, str, int], int]:
        limiter = anyio.CapacityLimiter(2)
        where = await _attempt_on_anyio_threads(lambda: _where_and_tokens(limiter), limiter)
        return where, limiter.borrowed_tokens

    (value, thread, tokens_while_running), tokens_after = asyncio.run(main())
    assert (value, tokens_while_running, tokens_after) == ("r-2", 1, 0)
    assert thread != threading.current_thread().name


def test_a_timed_out_sync_attempt_gives_its_token_back_at_once() -> None:
    gate, finished = threading.Event(), threading.Event()

    def blocked() -> None:
        gate.wait(WAIT)
        finished.set()

    async def main() -> tuple[int, bool]:
        limiter = anyio.CapacityLimiter(1)
        with pytest.raises(TimeoutError, match=r"exceeded the timeout of 0\.05 s"):
            await _attempt_on_anyio_threads(blocked, limiter, timeout=0.05)
        return limiter.borrowed_tokens, finished.is_set()

    try:
        assert asyncio.run(main()) == (0, False)  # its thread still waits for the gate
    finally:
        gate.set()  # let the abandoned thread finish


async def _raise_timeout() -> None:
    raise TimeoutError("the task's own")


def test_a_task_without_a_timeout_keeps_its_own_timeout_error(pool: ThreadPoolExecutor) -> None:
    with pytest.raises(TimeoutError, match="the task's own"):
        asyncio.run(run_attempt(_task(_raise_timeout), (), {}, in_executor(pool)))


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
