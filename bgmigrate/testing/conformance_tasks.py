"""Tasks the conformance suite sends; workers under test import this module as a task module.

Every task writes what it saw to a Redis list named by its ``log`` argument, so a test can
observe side effects that happen in another process. The Redis URL comes from
``BGMIGRATE_CONFORMANCE_REDIS_URL``, which the suite sets for itself and for workers.
"""

from __future__ import annotations

import asyncio
import enum
import json
import os
import time
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import redis
from pydantic import BaseModel

from bgmigrate import RetryPolicy, task

REDIS_URL_ENV = "BGMIGRATE_CONFORMANCE_REDIS_URL"
TRAP_ALARM_LOG = "bgmigrate:conformance:trap"
"""Where :mod:`bgmigrate.testing.conformance_trap` writes if anything imports it."""
PARKED_QUEUE = "bgmigrate-conformance-parked"
"""A queue no conformance worker consumes: :func:`parked` runs only where a call sends it."""


def _redis() -> redis.Redis:
    return redis.Redis.from_url(os.environ[REDIS_URL_ENV])


def write(log: str, event: object) -> None:
    """Append ``event`` (as JSON) to the Redis list ``log``."""
    with _redis() as client:
        client.rpush(log, json.dumps(event))


def read(log: str) -> list[object]:
    """Every event written to ``log`` so far, oldest first."""
    with _redis() as client:
        return [json.loads(item) for item in client.lrange(log, 0, -1)]


class Color(enum.Enum):
    """An enum argument."""

    RED = "red"
    BLUE = "blue"


class Item(BaseModel):
    """A pydantic model argument and result."""

    name: str
    price: Decimal
    tags: tuple[str, ...]


@dataclass(frozen=True)
class Point:
    """A dataclass argument."""

    x: int
    y: int


@task
def record(log: str, label: str) -> None:
    """A sync task: write ``label`` with the time it ran and the process it ran in."""
    write(log, {"label": label, "at": time.time(), "pid": os.getpid()})


@task
async def arecord(log: str, label: str) -> None:
    """An async task: write ``label`` with the time it ran and the process it ran in."""
    await asyncio.sleep(0)
    write(log, {"label": label, "at": time.time(), "pid": os.getpid()})


@task
def add(a: int, b: int) -> int:
    """A task with a result."""
    return a + b


@task
def typed(
    log: str, when: datetime, ident: UUID, amount: Decimal, item: Item, color: Color, point: Point
) -> Item:
    """Write the type of every argument as the worker received it; return a typed value."""
    received = {
        "when": when,
        "ident": ident,
        "amount": amount,
        "item": item,
        "color": color,
        "point": point,
    }
    write(log, {name: type(value).__name__ for name, value in received.items()})
    return Item(
        name=f"{item.name}@{color.value}",
        price=amount + item.price,
        tags=(str(ident), when.isoformat()),
    )


@task(retry=RetryPolicy(max_attempts=3, backoff=0.05))
def flaky(log: str, failures: int) -> int:
    """Fail the first ``failures`` attempts, then return the attempt number."""
    with _redis() as client:
        attempt = int(client.incr(f"{log}:attempts"))
    write(log, {"attempt": attempt})
    if attempt <= failures:
        raise ConnectionError(f"attempt {attempt} fails")
    return attempt


@task
def boom(message: str) -> None:
    """Always fail with ``ValueError(message)``."""
    raise ValueError(message)


@task(timeout=0.5)
async def slow_async(log: str, seconds: float) -> None:
    """Sleep longer than the timeout allows, asynchronously; write if it ever finishes."""
    await asyncio.sleep(seconds)
    write(log, "finished")


@task(timeout=0.5)
def slow_sync(log: str, seconds: float) -> None:
    """Sleep longer than the timeout allows, in a thread; write if it ever finishes."""
    time.sleep(seconds)
    write(log, "finished")


@task(timeout=10.0)
def patient(log: str, seconds: float) -> None:
    """Sleep within the registered timeout, in a thread; write when finished."""
    time.sleep(seconds)
    write(log, "finished")


@task(timeout=10.0)
async def apatient(log: str, seconds: float) -> None:
    """Sleep within the registered timeout, asynchronously; write when finished."""
    await asyncio.sleep(seconds)
    write(log, "finished")


@task(queue=PARKED_QUEUE)
def parked(log: str, label: str) -> None:
    """:func:`record`, registered on a queue that no conformance worker consumes."""
    write(log, {"label": label, "at": time.time(), "pid": os.getpid()})


@task
async def loop_identity() -> str:
    """The process and event loop this async task ran on."""
    return f"{os.getpid()}:{id(asyncio.get_running_loop())}"


@task
def hold(log: str, seconds: float) -> None:
    """Write ``started`` (with this process id), sleep, then write ``finished``."""
    write(log, {"label": "started", "pid": os.getpid()})
    time.sleep(seconds)
    write(log, {"label": "finished", "pid": os.getpid()})


@task
def count(log: str) -> int:
    """Count executions in ``log`` (for idempotency keys)."""
    with _redis() as client:
        return int(client.incr(f"{log}:count"))


@task
def tally(run: str, job: int, seconds: float = 0.0) -> None:
    """Count this execution of ``job`` (hash ``<run>:runs``), work ``seconds``, then record its
    completion idempotently (set ``<run>:done``): fault tests find lost and repeated jobs."""
    with _redis() as client:
        client.hincrby(f"{run}:runs", str(job), 1)
        time.sleep(seconds)
        client.sadd(f"{run}:done", job)


@task
async def atally(run: str, job: int, seconds: float = 0.0) -> None:
    """:func:`tally` as an ``async def``: its work can be cancelled while it waits."""
    with _redis() as client:
        client.hincrby(f"{run}:runs", str(job), 1)
    await asyncio.sleep(seconds)
    with _redis() as client:
        client.sadd(f"{run}:done", job)


@task(retry=RetryPolicy(max_attempts=2, backoff=0.05))
def fails_while(flag: str, log: str, label: str) -> None:
    """Fail (twice: two attempts) while the file ``flag`` exists; once it is gone, record
    ``label`` in ``log``."""
    if Path(flag).exists():
        raise RuntimeError(f"flag {flag} is set")
    write(log, {"label": label})


@task
async def gated(run: str, job: int) -> None:
    """:func:`atally` that works until the key ``<run>:open`` exists instead of a set time: a
    test holds jobs running for as long as it needs (polled every 50 ms)."""
    with _redis() as client:
        client.hincrby(f"{run}:runs", str(job), 1)
        while not client.exists(f"{run}:open"):
            await asyncio.sleep(0.05)
        client.sadd(f"{run}:done", job)
