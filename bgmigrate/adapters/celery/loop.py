"""One event loop per Celery worker process (and per thread with the threads pool).

Celery has no native ``async def`` tasks. Running each coroutine with ``asyncio.run`` would
create and close a loop per task, which breaks anything a task keeps between runs (an
asyncpg or httpx pool is bound to the loop that created it). So every process keeps one
loop for its lifetime, created on first use and closed when the pool process exits. The
owner's pid is remembered: a loop inherited through ``fork`` is never reused.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class _LoopHolder(threading.local):
    runner: asyncio.Runner | None = None
    pid: int = 0


_holder = _LoopHolder()


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this process's (and thread's) long-lived loop."""
    if _holder.runner is None or _holder.pid != os.getpid():
        _holder.runner = asyncio.Runner()
        _holder.pid = os.getpid()
    return _holder.runner.run(coro)


def close() -> None:
    """Close this thread's loop, if it has one (called when a pool process shuts down)."""
    if _holder.runner is not None and _holder.pid == os.getpid():
        _holder.runner.close()
    _holder.runner = None
