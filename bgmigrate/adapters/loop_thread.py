"""An event loop on a thread of its own, for work submitted from code that has no loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """Runs coroutines on a private event loop in a daemon thread.

    The thread starts on first use and ends once it has been idle (no coroutine running) for
    ``idle_timeout`` seconds, so an application that never calls :meth:`stop` (no
    ``bgmigrate.lifespan``) keeps no thread behind; the next ``submit`` starts a new one.
    Coroutines submitted close together share one loop (and the connections their clients keep).
    """

    def __init__(self, name: str, idle_timeout: float = 10.0) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._idle_periods = 0  # counts the times the loop went idle
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pending = 0
        # Guards the loop, the thread and the count of coroutines not finished yet.
        self._lock = threading.Lock()

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coro`` on the thread's loop and return a future for its result."""
        with self._lock:
            loop = self._ensure_loop()
            self._pending += 1
        return asyncio.run_coroutine_threadsafe(self._run_then_release(coro, loop), loop)

    async def _run_then_release(
        self, coro: Coroutine[Any, Any, T], loop: asyncio.AbstractEventLoop
    ) -> T:
        try:
            return await coro
        finally:
            with self._lock:
                if self._loop is loop:  # else stop() has already let this loop go
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle_periods += 1
                        loop.call_later(
                            self._idle_timeout, self._stop_if_idle, loop, self._idle_periods
                        )

    def _stop_if_idle(self, loop: asyncio.AbstractEventLoop, period: int) -> None:
        """Stop ``loop`` if it has stayed idle since the idle period ``period`` began."""
        with self._lock:
            if self._loop is loop and self._pending == 0 and self._idle_periods == period:
                # A later submit, even one waiting for this lock, sees no loop and starts a
                # new thread.
                loop.stop()
                self._loop = self._thread = None

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            loop = asyncio.new_event_loop()
            ready = threading.Event()
            self._thread = threading.Thread(
                target=self._run, args=(loop, ready), name=self._name, daemon=True
            )
            self._thread.start()
            ready.wait()
            self._loop = loop
        return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()
        # Cancel what is left so that each coroutine can report what it abandons.
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.close()

    def stop(self) -> None:
        """Stop the loop, cancelling the coroutines still running, and wait for the thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
            self._pending = 0
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
