"""The in-process backend: timeouts, retries, status, keys, its own pool, and a logged drain."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import prometheus_client
import pytest

import bgmigrate
from bgmigrate import RetryPolicy, TaskStatus, task
from bgmigrate.errors import ReadinessWarning, UnknownJobError
from bgmigrate.runtime import Runtime
from bgmigrate.stats import load_stats

WAIT = 10  # seconds: generous upper bound for anything a test waits on

calls: list[float] = []
release = threading.Event()
concurrent_now = 0
concurrent_max = 0
counter_lock = threading.Lock()


@pytest.fixture(autouse=True)
def reset() -> Iterator[None]:
    global concurrent_now, concurrent_max
    calls.clear()
    release.clear()
    concurrent_now = concurrent_max = 0
    yield
    release.set()  # never leave a pool thread blocked


@task(timeout=0.2)
async def too_slow() -> None:
    await asyncio.sleep(WAIT)


@task(retry=RetryPolicy(max_attempts=3, backoff=0.05, max_delay=1.0))
def flaky() -> str:
    calls.append(time.monotonic())
    if len(calls) < 3:
        raise ConnectionError("temporary")
    return "done"


@task(retry=RetryPolicy(max_attempts=3, backoff=0.01, retry_on=(ConnectionError,)))
def wrong_kind_of_error() -> None:
    calls.append(time.monotonic())
    raise ValueError("not retried")


@task
def blocked_until_released(label: str) -> str:
    global concurrent_now, concurrent_max
    with counter_lock:
        concurrent_now += 1
        concurrent_max = max(concurrent_max, concurrent_now)
    release.wait(WAIT)
    with counter_lock:
        concurrent_now -= 1
    return label


@task
def quick(value: int) -> int:
    calls.append(value)
    return value * 2


@task
async def async_quick(value: int) -> int:
    calls.append(value)
    return value + 1


@task
def takes(seconds: float) -> None:
    time.sleep(seconds)


async def _send(value: int) -> None:
    calls.append(value)


def wait_for(condition: object, timeout: float = WAIT) -> None:
    """Poll ``condition()`` until it is true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.005)


def test_an_async_task_over_its_timeout_fails_naming_the_limit() -> None:
    handle = too_slow.enqueue()
    with pytest.raises(TimeoutError, match=r"exceeded the timeout of 0\.2 s"):
        handle.result(timeout=WAIT)
    assert handle.status() is TaskStatus.FAILED


def test_a_task_failing_twice_then_succeeding_runs_three_times_with_backoff(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="bgmigrate.worker"):
        assert flaky.enqueue().result(timeout=WAIT) == "done"
    retried = [r.getMessage() for r in caplog.records if r.name == "bgmigrate.worker"]
    assert [message.split(" (")[0] for message in retried] == [
        f"task {flaky.name} failed on attempt 1/3",
        f"task {flaky.name} failed on attempt 2/3",
    ]
    assert len(calls) == 3
    first_wait, second_wait = calls[1] - calls[0], calls[2] - calls[1]
    assert 0.05 <= first_wait < 0.05 + 1.0
    assert 0.10 <= second_wait < 0.10 + 1.0


def test_exceptions_outside_retry_on_are_not_retried() -> None:
    handle = wrong_kind_of_error.enqueue()
    with pytest.raises(ValueError, match="not retried"):
        handle.result(timeout=WAIT)
    assert len(calls) == 1


def test_status_goes_ready_running_successful() -> None:
    handle = blocked_until_released.enqueue("x")
    wait_for(lambda: handle.status() is TaskStatus.RUNNING)
    release.set()
    assert handle.result(timeout=WAIT) == "x"
    assert handle.status() is TaskStatus.SUCCESSFUL


def test_unknown_ids_are_unknown() -> None:
    handle = quick.enqueue(1)
    handle.result(timeout=WAIT)
    never = type(handle)("no-such-id", handle.backend)
    assert never.status() is TaskStatus.UNKNOWN
    with pytest.raises(UnknownJobError, match="no-such-id"):
        never.result(timeout=WAIT)


def test_one_execution_per_idempotency_key() -> None:
    keyed = quick.using(key="order-42")
    first, second = keyed.enqueue(1), keyed.enqueue(2)
    assert first.id == second.id
    assert first.result(timeout=WAIT) == 2
    assert calls == [1]


def test_sync_tasks_are_bounded_by_the_configured_pool_size() -> None:
    bgmigrate.configure(inprocess_workers=2)
    handles = [blocked_until_released.enqueue(str(n)) for n in range(4)]
    wait_for(lambda: concurrent_now == 2)
    assert handles[3].status() is TaskStatus.READY
    release.set()
    assert [h.result(timeout=WAIT) for h in handles] == ["0", "1", "2", "3"]
    assert concurrent_max == 2


def test_aenqueue_runs_async_tasks_on_the_running_loop() -> None:
    async def main() -> int:
        handle = await async_quick.aenqueue(41)
        result: int = await handle.aresult(timeout=WAIT)
        return result

    assert anyio.run(main) == 42


def test_result_on_a_running_loop_says_to_await_aresult_instead_of_hanging() -> None:
    outcome: list[object] = []

    async def main() -> None:
        handle = await async_quick.aenqueue(1)  # scheduled on this very loop
        with pytest.raises(RuntimeError, match=r"use `await handle\.aresult\(\)`"):
            handle.result()
        outcome.append(await handle.aresult(timeout=WAIT))

    # In a daemon thread, so that a regression (the loop blocked for good) fails, not hangs.
    runner = threading.Thread(target=anyio.run, args=(main,), daemon=True)
    runner.start()
    runner.join(timeout=WAIT)
    assert not runner.is_alive(), "handle.result() blocked the event loop"
    assert outcome == [2]


def test_delay_holds_a_task_back() -> None:
    started = time.monotonic()
    quick.using(delay=0.2).enqueue(5).result(timeout=WAIT)
    assert time.monotonic() - started >= 0.2


def test_a_sync_callable_returning_a_coroutine_is_awaited(runtime: Runtime) -> None:
    # Starlette would call ``lambda: _send(4)`` in a thread and never await what it returns.
    backend, job = runtime.prepare(lambda: _send(4), (), {})
    backend.enqueue([job])[0].result(timeout=WAIT)
    assert calls == [4]


def test_a_task_over_the_budget_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    bgmigrate.configure(inprocess_budget=0.2)
    with caplog.at_level(logging.WARNING, logger="bgmigrate"):
        quick.enqueue(1).result(timeout=WAIT)
        takes.enqueue(0.3).result(timeout=WAIT)
    warnings = [r.getMessage() for r in caplog.records if "budget" in r.getMessage()]
    assert len(warnings) == 1
    assert "takes" in warnings[0]


def test_readiness_warning_points_at_the_enqueue_line() -> None:
    with pytest.warns(ReadinessWarning, match="argument 'value'") as seen:
        quick.enqueue("not an int").result(timeout=WAIT)  # type: ignore[arg-type]
    assert seen[0].filename == __file__


def test_shutdown_drains_pending_tasks_within_the_deadline() -> None:
    runtime = bgmigrate.configure(drain_timeout=WAIT)
    handle = blocked_until_released.enqueue("drained")
    threading.Timer(0.1, release.set).start()
    anyio.run(runtime.close)
    assert handle.status() is TaskStatus.SUCCESSFUL


def test_shutdown_logs_each_task_it_drops_by_name(caplog: pytest.LogCaptureFixture) -> None:
    runtime = bgmigrate.configure(drain_timeout=0.1, inprocess_workers=1)
    running = blocked_until_released.enqueue("running")
    waiting = quick.enqueue(7)
    wait_for(lambda: running.status() is TaskStatus.RUNNING)
    with caplog.at_level(logging.ERROR, logger="bgmigrate"):
        anyio.run(runtime.close)
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert any("blocked_until_released('running')" in m for m in dropped)
    assert waiting.status() is TaskStatus.FAILED
    assert len(dropped) == 2


def test_stats_are_written_at_shutdown_with_queueing_delay(tmp_path: Path) -> None:
    path = tmp_path / f"stats-{os.getpid()}.json"
    runtime = bgmigrate.configure(stats_path=tmp_path / "stats-{pid}.json", inprocess_workers=1)
    anyio.run(runtime.start)
    first = takes.enqueue(0.2)
    second = quick.enqueue(1)  # waits behind `takes` for the only pool thread
    second.result(timeout=WAIT)
    first.result(timeout=WAIT)
    anyio.run(runtime.close)
    figures = load_stats([path])
    assert figures[takes.name].runs == 1
    assert figures[takes.name].duration.maximum >= 0.2
    assert figures[quick.name].queue_delay.maximum >= 0.1


def test_prometheus_metrics_count_runs_and_failures() -> None:
    bgmigrate.configure(prometheus=True)
    quick.enqueue(1).result(timeout=WAIT)
    with pytest.raises(ValueError, match="not retried"):
        wrong_kind_of_error.enqueue().result(timeout=WAIT)
    exposition = prometheus_client.generate_latest().decode()
    assert f'bgmigrate_task_runs_total{{outcome="success",task="{quick.name}"}}' in exposition
    assert (
        f'bgmigrate_task_runs_total{{outcome="failure",task="{wrong_kind_of_error.name}"}}'
        in exposition
    )
    assert f'bgmigrate_task_duration_seconds_count{{task="{quick.name}"}}' in exposition


def test_an_idempotency_key_is_forgotten_after_the_result_ttl() -> None:
    bgmigrate.configure(result_ttl=1)
    keyed = quick.using(key="expiring")
    first = keyed.enqueue(1)
    first.result(timeout=WAIT)
    handles = [first]

    def enqueued_anew() -> bool:
        handles.append(keyed.enqueue(2))
        return handles[-1].id != first.id

    wait_for(enqueued_anew)
    assert handles[-1].result(timeout=WAIT) == 4
    assert calls == [1, 2]  # every enqueue before expiry returned the first job's handle
