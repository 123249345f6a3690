"""One event loop per Celery worker process (and per thread with the threads pool).

Celery has no native ``async def`` tasks. Running each coroutine with ``asyncio.run`` would
create and close a loop per task, which breaks anything a task keeps between runs (an
asyncpg or httpx pool is bound to the loop that created it). So every process keeps one
loop for its lifetime, created on first use and closed when the pool process exits. The
owner's pid is remembered: a loop inherited through ``fork`` is never reused.

The application's lifespan (``BGMIGRATE_WORKER_LIFESPAN``, see :func:`use_lifespan`) is
entered on each such loop when it is created and exited when it is closed.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from bgmigrate.adapters.worker_lifespan import WorkerLifespan

T = TypeVar("T")


class _LoopHolder(threading.local):
    runner: asyncio.Runner | None = None
    pid: int = 0
    lifespan: WorkerLifespan | None = None


_holder = _LoopHolder()
_template: WorkerLifespan | None = None


def use_lifespan(lifespan: WorkerLifespan | None) -> None:
    """Enter (a fresh entry of) ``lifespan`` on every loop created from now on."""
    global _template
    _template = lifespan


def start() -> None:
    """Create this process's (and thread's) loop now, entering the application's lifespan on
    it; ``WorkerStartupError`` if that fails (the loop is closed again)."""
    if _holder.runner is not None and _holder.pid == os.getpid():
        return
    _holder.runner, _holder.pid, _holder.lifespan = asyncio.Runner(), os.getpid(), None
    if _template is not None:
        lifespan = WorkerLifespan(_template.spec, _template.factory)
        try:
            _holder.runner.run(lifespan.start())
        except BaseException:
            _holder.runner.close()
            _holder.runner = None
            raise
        _holder.lifespan = lifespan


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion on this process's (and thread's) long-lived loop."""
    try:
        start()
    except BaseException:
        coro.close()  # never awaited: say so quietly rather than with a RuntimeWarning
        raise
    assert _holder.runner is not None
    return _holder.runner.run(coro)


def close() -> None:
    """Exit the lifespan and close this thread's loop, if it has one (called when a pool
    process shuts down)."""
    if _holder.runner is not None and _holder.pid == os.getpid():
        if _holder.lifespan is not None:
            _holder.runner.run(_holder.lifespan.stop())
        _holder.runner.close()
    _holder.runner = _holder.lifespan = None
