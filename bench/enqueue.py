"""Enqueue cost per task: bgmigrate against the raw Celery and arq clients, side by side.

Run it (no worker needed: only enqueueing is measured; a private ``redis-server`` is started
unless ``--redis-url`` names one, whose queues then keep what was enqueued)::

    .venv/bin/python bench/enqueue.py [--redis-url URL] [--calls 200] [--rounds 7] [--plot PNG]

For each backend it measures, interleaved round by round on the same Redis:

- single: one task per call — ``Task.aenqueue`` vs ``apply_async`` / ``enqueue_job``;
- request: a request that adds 10 tasks — ``RequestBatch.add_task`` x 10 and the dispatch that
  runs when the handler returns, vs 10 sequential raw calls.

It prints microseconds per call (median of the rounds) and the ratios the docs quote:
single overhead = bgmigrate / raw (target <= 1.10) and batch speedup = raw / bgmigrate
(target >= 3). Timings are not asserted anywhere: they depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from arq.connections import ArqRedis, RedisSettings, create_pool
from celery import Celery
from starlette.background import BackgroundTasks

import bgmigrate
from bgmigrate import RequestBatch, task
from bgmigrate.adapters.arq.wire import dumps, loads
from bgmigrate.adapters.celery.app_factory import make_app
from bgmigrate.runtime import Runtime
from bgmigrate.testing.redis_servers import RedisServerFactory

BATCH = 10


@task
def send_email(user_id: int, subject: str) -> None:
    """The benchmarked task (never run: only enqueued)."""


Timed = Callable[[], Awaitable[None]]


async def per_call(action: Timed, calls: int) -> float:
    """Microseconds per call of ``action``, over ``calls`` calls."""
    start = time.perf_counter()
    for _ in range(calls):
        await action()
    return (time.perf_counter() - start) / calls * 1e6


Medians = dict[str, tuple[float, float]]
"""Measure name -> (bgmigrate, raw) median microseconds per call."""


async def compare(pairs: dict[str, tuple[Timed, Timed]], calls: int, rounds: int) -> Medians:
    """Time each (bgmigrate, raw) pair, interleaved; print and return medians and ratios."""
    samples: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
    for _ in range(rounds):
        for name, (ours, raw) in pairs.items():
            samples[name][0].append(await per_call(ours, calls))
            samples[name][1].append(await per_call(raw, calls))
    medians: Medians = {}
    for name, (ours_us, raw_us) in samples.items():
        ours, raw = statistics.median(ours_us), statistics.median(raw_us)
        medians[name] = (ours, raw)
        if name.endswith("single"):
            verdict = f"overhead x{ours / raw:.2f} (target <= 1.10)"
        else:
            verdict = f"speedup x{raw / ours:.2f} (target >= 3)"
        print(f"{name:<16} bgmigrate {ours:9.1f} us   raw {raw:9.1f} us   {verdict}")
    return medians


def request_batch(runtime: Runtime) -> Timed:
    """What a request that adds 10 tasks costs: add_task x 10, then the dispatch."""

    async def run() -> None:
        batch = RequestBatch(runtime)
        for user in range(BATCH):
            batch.add_task(send_email, user, "welcome")
        await batch.dispatch(BackgroundTasks())

    return run


async def bench_celery(url: str, queue: str, calls: int, rounds: int) -> Medians:
    runtime = bgmigrate.configure(
        backend="celery", broker_url=url, result_url=url, default_queue=queue
    )
    await runtime.start()
    raw_app: Celery = make_app(runtime.settings, main="raw")
    raw_task = raw_app.task(name=send_email.name)(send_email.func)

    async def ours_single() -> None:
        await send_email.aenqueue(1, "welcome")

    async def raw_single() -> None:
        # As an async endpoint would call it: blocking I/O off the event loop.
        await asyncio.to_thread(raw_task.apply_async, (1, "welcome"))

    async def raw_batch() -> None:
        for user in range(BATCH):
            await asyncio.to_thread(raw_task.apply_async, (user, "welcome"))

    pairs = {
        "celery single": (ours_single, raw_single),
        "celery request": (request_batch(runtime), raw_batch),
    }
    medians = await compare(pairs, calls, rounds)
    await runtime.close()
    raw_app.close()
    return medians


async def bench_arq(url: str, queue: str, calls: int, rounds: int) -> Medians:
    queue = f"{queue}-arq"
    runtime = bgmigrate.configure(backend="arq", broker_url=url, default_queue=queue)
    await runtime.start()
    pool: ArqRedis = await create_pool(
        RedisSettings.from_dsn(url),
        job_serializer=dumps,
        job_deserializer=loads,
        default_queue_name=queue,
    )

    async def ours_single() -> None:
        await send_email.aenqueue(1, "welcome")

    async def raw_single() -> None:
        await pool.enqueue_job(send_email.name, 1, "welcome")

    async def raw_batch() -> None:
        for user in range(BATCH):
            await pool.enqueue_job(send_email.name, user, "welcome")

    pairs = {
        "arq single": (ours_single, raw_single),
        "arq request": (request_batch(runtime), raw_batch),
    }
    medians = await compare(pairs, calls, rounds)
    await pool.aclose()
    await runtime.close()
    return medians


def plot(medians: Medians, path: Path, title: str) -> None:
    """Bars of microseconds per call, bgmigrate beside the raw client, written as a PNG."""
    from plots import grouped_bars  # bench/plots.py, beside this script

    names = list(medians)
    grouped_bars(
        path,
        title=title,
        ylabel="µs per call (a request call adds 10 tasks)",
        groups=[name.replace(" ", "\n") for name in names],
        series={
            "bgmigrate": [medians[name][0] for name in names],
            "raw client": [medians[name][1] for name in names],
        },
        label_format="%.0f",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--redis-url", help="Redis to use (default: a private redis-server, removed afterwards)"
    )
    parser.add_argument("--calls", type=int, default=200, help="calls per round and measure")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--plot", type=Path, help="also draw the medians into this PNG")
    args = parser.parse_args()
    queue = f"bench-{uuid.uuid4().hex[:8]}"
    print(f"bgmigrate enqueue benchmark: {args.rounds} rounds x {args.calls} calls, batch {BATCH}")
    servers = RedisServerFactory()
    try:
        url = args.redis_url or servers().url
        medians = asyncio.run(bench_celery(url, queue, args.calls, args.rounds))
        medians |= asyncio.run(bench_arq(url, queue, args.calls, args.rounds))
    finally:
        servers.close()
    if args.plot:
        plot(medians, args.plot, f"enqueue cost, median of {args.rounds} x {args.calls} calls")
        print(f"plot written to {args.plot}")


if __name__ == "__main__":
    main()
