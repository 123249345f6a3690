"""The app that ``bench/latency.py`` serves with uvicorn (and whose tasks its workers import).

- ``GET /light``: the endpoint whose latency is measured; a plain sync endpoint, so it runs on
  Starlette's thread pool like most CRUD endpoints do.
- ``POST /heavy/none``: the same request, adding no task (what the requests alone cost).
- ``POST /heavy/background-tasks``: adds the two heavy tasks with FastAPI's ``BackgroundTasks``.
- ``POST /heavy/bgmigrate``: adds them with ``Tasks``; ``BGMIGRATE_BACKEND`` decides where
  they run (in-process, ARQ or Celery).
"""

from __future__ import annotations

import time

from fastapi import BackgroundTasks, FastAPI

import bgmigrate
from bgmigrate import Tasks, task

CRUNCH_SECONDS = 0.2
"""CPU time burnt by :func:`crunch` (holding the GIL, as pure-Python parsing would)."""
BLOCKING_SECONDS = 2.0
"""Duration of :func:`blocking_io`'s blocking call (a slow HTTP API, a model server)."""

app = FastAPI(lifespan=bgmigrate.lifespan)


@task
def crunch(seed: int) -> int:
    """A CPU-bound sync task: 200 ms of pure-Python arithmetic."""
    deadline = time.thread_time() + CRUNCH_SECONDS
    value = seed
    while time.thread_time() < deadline:
        for _ in range(1000):
            value = (value * 1103515245 + 12345) % 2**31
    return value


@task
def blocking_io(seed: int) -> int:
    """A sync task that blocks for 2 s on I/O (sleeping releases the GIL, as a socket read does)."""
    time.sleep(BLOCKING_SECONDS)
    return seed


@app.get("/light")
def light() -> dict[str, bool]:
    """The measured endpoint: no work at all."""
    return {"ok": True}


@app.post("/heavy/none")
async def heavy_none() -> dict[str, bool]:
    """A request like the heavy ones that adds no task."""
    return {"ok": True}


@app.post("/heavy/background-tasks")
async def heavy_background_tasks(background_tasks: BackgroundTasks) -> dict[str, bool]:
    """Add both heavy tasks the FastAPI way: they run in this process after the response."""
    background_tasks.add_task(crunch, 1)
    background_tasks.add_task(blocking_io, 2)
    return {"ok": True}


@app.post("/heavy/bgmigrate")
async def heavy_bgmigrate(tasks: Tasks) -> dict[str, bool]:
    """Add both heavy tasks through bgmigrate: where they run depends on BGMIGRATE_BACKEND."""
    tasks.add_task(crunch, 1)
    tasks.add_task(blocking_io, 2)
    return {"ok": True}
