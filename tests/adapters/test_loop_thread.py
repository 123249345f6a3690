"""The private loop thread: shared by coroutines close together, gone once idle."""

from __future__ import annotations

import asyncio
import threading

from bgmigrate.adapters.loop_thread import LoopThread
from bgmigrate.testing.polling import wait_until


async def _current_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def _threads_named(name: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == name]


def test_coroutines_submitted_close_together_share_one_loop() -> None:
    runner = LoopThread("test-loop-shared", idle_timeout=10)
    try:
        first = runner.submit(_current_loop()).result(timeout=5)
        assert runner.submit(_current_loop()).result(timeout=5) is first
    finally:
        runner.stop()
    assert _threads_named("test-loop-shared") == []


def test_the_thread_ends_once_idle_and_a_later_submit_starts_a_new_one() -> None:
    runner = LoopThread("test-loop-idle", idle_timeout=0.05)
    first = runner.submit(_current_loop()).result(timeout=5)
    wait_until(
        lambda: _threads_named("test-loop-idle") == [], timeout=5, what="the loop thread to end"
    )
    second = runner.submit(_current_loop()).result(timeout=5)
    assert second is not first
    wait_until(
        lambda: _threads_named("test-loop-idle") == [], timeout=5, what="the loop thread to end"
    )
