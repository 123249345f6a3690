"""The application's own lifespan, run by each worker process around its work.

A task often needs what the application sets up at start-up (an ORM opened, a client pool, a
model loaded), and a queue worker never starts the application. ``BGMIGRATE_WORKER_LIFESPAN``
names it: ``module:attribute`` of a FastAPI (or Starlette) app, whose
``router.lifespan_context`` runs its lifespan and its ``on_event("startup"/"shutdown")``
handlers, or of a no-argument factory of an async context manager. A worker enters it once per
event loop that runs async tasks (ARQ: its loop; Celery: each pool process's loop) and exits it
on shutdown. A start-up failure stops the worker with a :class:`WorkerStartupError`.

``bgmigrate.lifespan`` nested in the app's lifespan is harmless there: it starts the backends
as clients, so a task may enqueue further tasks.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

from bgmigrate.errors import ConfigError, WorkerStartupError
from bgmigrate.settings import Settings

logger = logging.getLogger("bgmigrate.worker")

Factory = Callable[[], AbstractAsyncContextManager[Any]]


def _resolve(spec: str) -> object:
    module_name, _, attribute = spec.partition(":")
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(
            f"BGMIGRATE_WORKER_LIFESPAN: cannot import {module_name!r} ({exc}); check the "
            "name and that the worker runs where your code is importable"
        ) from exc
    for part in attribute.split("."):
        try:
            found = getattr(found, part)
        except AttributeError:
            raise ConfigError(
                f"BGMIGRATE_WORKER_LIFESPAN: {module_name!r} has no attribute {attribute!r}"
            ) from None
    return found


def load_factory(spec: str) -> Factory:
    """The lifespan that ``spec`` (``module:attribute``) names; ``ConfigError`` if it names
    neither an app with a router nor a callable."""
    found = _resolve(spec)
    router: Any = getattr(found, "router", None)
    if getattr(router, "lifespan_context", None) is not None:
        # Looked up at entry, not now: an app's set-up may still replace it (tortoise does).
        return lambda: router.lifespan_context(found)
    if callable(found):
        return found
    raise ConfigError(
        f"BGMIGRATE_WORKER_LIFESPAN: {spec!r} is a {type(found).__name__}, neither a FastAPI "
        "app nor a factory of an async context manager"
    )


class WorkerLifespan:
    """One entry of the application's lifespan, held open by a task of its own (so that a
    lifespan with a task group exits in the task that entered it, as uvicorn runs it)."""

    def __init__(self, spec: str, factory: Factory) -> None:
        self.spec = spec
        self.factory = factory
        self._stop: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Enter the lifespan on the running loop; ``WorkerStartupError`` if it fails."""
        self._stop = asyncio.Event()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._hold(started), name="bgmigrate-worker-lifespan")
        # The task may also end without a word (cancelled): then it did not start either.
        await asyncio.wait({started, self._task}, return_when=asyncio.FIRST_COMPLETED)
        error = started.exception() if started.done() else RuntimeError("it ended unstarted")
        if error is not None:
            raise WorkerStartupError(
                f"BGMIGRATE_WORKER_LIFESPAN={self.spec}: the application's start-up failed "
                f"({error!r}); the worker stops"
            ) from error
        logger.info("application lifespan %s started", self.spec)

    async def _hold(self, started: asyncio.Future[None]) -> None:
        assert self._stop is not None
        try:
            async with self.factory():
                started.set_result(None)
                await self._stop.wait()
        except Exception as exc:
            if not started.done():
                started.set_exception(exc)
                return
            logger.exception("application lifespan %s failed on shutdown", self.spec)

    async def stop(self) -> None:
        """Exit the lifespan (its shutdown part runs; a failure there is logged)."""
        if self._task is not None and self._stop is not None:
            self._stop.set()
            await self._task
            self._task = None


def worker_lifespan(settings: Settings) -> WorkerLifespan | None:
    """The lifespan ``settings.worker_lifespan`` names (its module imported now), or ``None``."""
    if settings.worker_lifespan is None:
        return None
    return WorkerLifespan(settings.worker_lifespan, load_factory(settings.worker_lifespan))
