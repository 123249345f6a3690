"""Outbox costs, each against its raw equivalent, side by side in one run.

Run it (a private ``redis-server`` is the broker; the database is a new one on the test
PostgreSQL, ``BGMIGRATE_TEST_POSTGRES_URL``, dropped at the end)::

    .venv/bin/python bench/outbox.py [--jobs 20000] [--batch 1000] [--requests 300] [--rounds 6]
        [--client-jobs 2000]

- relay: ``bgmigrate relay``'s loop (``Relay.relay_batch``) moving ``--jobs`` rows to ARQ and
  to Celery, against a raw loop over the same rows: ``SELECT ... FOR UPDATE SKIP LOCKED``,
  ``LPUSH`` of each row's payload (pipelined), ``DELETE``, ``COMMIT``. Goal: >= 0.8x the raw
  throughput, and >= 5,000 jobs/s. A second baseline per backend is the same loop publishing
  each row with the queue's own client (arq's ``ArqRedis.enqueue_job``, Celery's
  ``send_task`` on one producer) over ``--client-jobs`` rows: what the queue's own message
  format costs.
- insert: a request's transaction (insert an order row, add its task, commit) with
  ``OutboxBatch.add_task`` against the same transaction writing the same outbox row with a
  plain ``INSERT``, the two taking turns request by request. Goal: <= 1.2x (medians of all
  requests).

Rates are medians over ``--rounds`` interleaved rounds, in which the two relays and the raw
loop take turns at going first; each loop starts on a vacuumed table, and the process's garbage
collector is set as ``bgmigrate relay`` sets it. Timings are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import redis
from arq.connections import ArqRedis, RedisSettings, create_pool
from celery import Celery
from sqlalchemy import insert
from sqlalchemy.orm import Session

import bgmigrate
from bgmigrate.adapters.arq.wire import dumps, loads
from bgmigrate.outbox import OutboxBatch
from bgmigrate.outbox.relay import Relay
from bgmigrate.outbox.table import table
from bgmigrate.testing.outbox_app import create_tables, engine, orders, record
from bgmigrate.testing.postgres_servers import (
    configured_test_postgres_url,
    create_database,
    drop_database,
)
from bgmigrate.testing.redis_servers import RedisServerFactory

RAW_SELECT = (
    "SELECT id, job_id, task, payload FROM bgmigrate_outbox "
    "ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
)
Rows = list[tuple[int, str, str, dict[str, Any]]]


@contextmanager
def outbox_database(prefix: str) -> Iterator[tuple[str, str]]:
    """A new database on the test PostgreSQL with the outbox and orders tables (its SQLAlchemy
    URL) and a private Redis (its URL), both gone at the end."""
    servers = RedisServerFactory()
    database = create_database(configured_test_postgres_url(), prefix=prefix)
    url = database.replace("://", "+psycopg://", 1)
    try:
        create_tables(url)
        yield url, servers().url
    finally:
        engine(url).dispose()
        drop_database(database)
        servers.close()


def fill(url: str, jobs: int) -> None:
    """Commit ``jobs`` outbox rows, 500 per transaction, then ``VACUUM`` the table: every loop
    starts on the same table, without the dead rows of the loop before (which autovacuum
    would otherwise clear at some moment during one loop or another)."""
    for start in range(0, jobs, 500):
        with Session(engine(url)) as session:
            tasks = OutboxBatch(session)
            for n in range(start, min(start + 500, jobs)):
                tasks.add_task(record, "bench", n)
            session.commit()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE bgmigrate_outbox")


def relay_rate(url: str, backend: str, broker: str, jobs: int, batch: int) -> float:
    """Jobs per second of the relay moving ``jobs`` rows to ``backend``."""
    runtime = bgmigrate.configure(
        backend=backend, broker_url=broker, outbox_url=url, outbox_batch_size=batch
    )
    fill(url, jobs)
    relay = Relay(runtime.settings, runtime)
    start = time.perf_counter()
    while relay.relay_batch():
        pass
    elapsed = time.perf_counter() - start
    relay.close()
    redis.Redis.from_url(broker).flushdb()
    return jobs / elapsed


def skip_locked_rate(url: str, jobs: int, batch: int, publish: Callable[[Rows], None]) -> float:
    """Jobs per second of the raw loop over ``jobs`` rows: ``SELECT ... FOR UPDATE SKIP
    LOCKED``, ``publish`` the rows, ``DELETE`` them, ``COMMIT``."""
    fill(url, jobs)
    start = time.perf_counter()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        while True:
            with conn.transaction():
                rows = conn.execute(RAW_SELECT, (batch,)).fetchall()
                if not rows:
                    break
                publish(rows)
                conn.execute(
                    "DELETE FROM bgmigrate_outbox WHERE id = ANY(%s)", ([r[0] for r in rows],)
                )
    return jobs / (time.perf_counter() - start)


def lpush_rate(url: str, broker: str, jobs: int, batch: int) -> float:
    """The issue's raw loop: each row's payload ``LPUSH``-ed, pipelined."""
    client = redis.Redis.from_url(broker)

    def publish(rows: Rows) -> None:
        with client.pipeline(transaction=False) as pipe:
            for _, _, _, payload in rows:
                pipe.lpush("raw-queue", json.dumps(payload))
            pipe.execute()

    try:
        return skip_locked_rate(url, jobs, batch, publish)
    finally:
        client.flushdb()
        client.close()


def arq_client_rate(url: str, broker: str, jobs: int, batch: int) -> float:
    """The raw loop publishing each row with arq's own ``ArqRedis.enqueue_job`` (in order)."""
    loop = asyncio.new_event_loop()
    pool: ArqRedis = loop.run_until_complete(
        create_pool(RedisSettings.from_dsn(broker), job_serializer=dumps, job_deserializer=loads)
    )

    async def enqueue(rows: Rows) -> None:
        for _, job_id, task, payload in rows:
            await pool.enqueue_job(task, *payload["args"], _job_id=job_id, **payload["kwargs"])

    try:
        return skip_locked_rate(
            url, jobs, batch, lambda rows: loop.run_until_complete(enqueue(rows))
        )
    finally:
        loop.run_until_complete(pool.flushdb())
        loop.run_until_complete(pool.aclose())
        loop.close()


def celery_client_rate(url: str, broker: str, jobs: int, batch: int) -> float:
    """The raw loop publishing each row with Celery's own ``send_task``, on one producer."""
    app = Celery("bench", broker=broker, set_as_current=False)
    app.conf.task_serializer = "json"

    def publish(rows: Rows) -> None:
        with app.producer_or_acquire() as producer:
            for _, job_id, task, payload in rows:
                app.send_task(
                    task,
                    args=payload["args"],
                    kwargs=payload["kwargs"],
                    task_id=job_id,
                    producer=producer,
                )

    try:
        return skip_locked_rate(url, jobs, batch, publish)
    finally:
        redis.Redis.from_url(broker).flushdb()
        app.close()


def request_costs(url: str, requests: int) -> dict[str, list[float]]:
    """Microseconds of each request transaction (insert an order, add its task, commit), with
    ``OutboxBatch`` and with a plain ``INSERT`` taking turns request by request, so that both
    meet the same load on a shared machine."""
    costs: dict[str, list[float]] = {"outbox": [], "plain": []}
    for n in range(requests):
        for name, add in (("outbox", with_outbox), ("plain", with_plain_insert)):
            start = time.perf_counter()
            with Session(engine(url)) as session:
                session.execute(insert(orders).values(log="bench", n=n))
                add(session, n)
                session.commit()
            costs[name].append((time.perf_counter() - start) * 1e6)
    return costs


def with_outbox(session: Session, n: int) -> None:
    """Outbox mode's ``add_task``."""
    OutboxBatch(session).add_task(record, "bench", n)


def with_plain_insert(session: Session, n: int) -> None:
    """The same row, written with a plain ``INSERT`` (its values prepared outside the timing
    would favour it further; they are built here as an app would)."""
    row: dict[str, Any] = {
        "job_id": f"job-{n}",
        "task": record.name,
        "backend": "arq",
        "payload": {"args": ["bench", n], "kwargs": {}},
        "options": {},
    }
    session.execute(insert(table()), [row])


RELAYS = ("arq", "celery")
"""The backends the relay is measured with."""
CLIENTS = {"arq-client": arq_client_rate, "celery-client": celery_client_rate}
"""The loops with the queues' own clients (see the module docs)."""
BASELINES = ("raw", *CLIENTS)
"""The loops the relay is compared with."""


def print_rates(rates: dict[str, list[float]]) -> None:
    """Each loop's median, and each relay's ratio to the raw loop and to its queue's client."""
    medians = {name: statistics.median(values) for name, values in rates.items()}
    raw = medians["raw"]
    for name, values in rates.items():
        ratios = ", ".join(
            f"{value / raw_value:.2f}"
            for value, raw_value in zip(values, rates["raw"], strict=True)
        )
        shown = ", ".join(f"{value:.0f}" for value in values)
        print(f"{name:<14} rounds: {shown} jobs/s (x of raw: {ratios})")
    print(f"raw SKIP LOCKED + LPUSH loop          {raw:9.0f} jobs/s")
    for backend in ("arq", "celery"):
        rate, client = medians[backend], medians[f"{backend}-client"]
        label = f"same loop, {backend}'s own client"
        print(f"{label:<37} {client:9.0f} jobs/s   x{client / raw:.2f} of raw")
        print(
            f"relay to {backend:<6}                      {rate:9.0f} jobs/s   "
            f"x{rate / raw:.2f} of raw (goal >= 0.8, >= 5000/s), x{rate / client:.2f} of "
            f"{backend}'s own client"
        )


def main() -> None:
    """Measure and print every figure with its ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument(
        "--client-jobs",
        type=int,
        default=2_000,
        help="rows moved by the loops with the queues' own clients (each 20-30x slower)",
    )
    parser.add_argument("--db-prefix", default="bgm_ob_bench", help="name prefix of the database")
    args = parser.parse_args()
    with outbox_database(args.db_prefix) as (url, broker):
        rates: dict[str, list[float]] = {name: [] for name in (*RELAYS, *BASELINES)}
        # As `bgmigrate relay` does once it has started: the garbage collector leaves what this
        # process loaded alone, for every loop measured here.
        gc.collect()
        gc.freeze()
        costs: dict[str, list[float]] = {"outbox": [], "plain": []}
        for number in range(args.rounds):
            # The relays and the raw loop take turns at going first, so that no loop always
            # meets the same state of the machine.
            loops = [*RELAYS, "raw"]
            for name in loops[number % 3 :] + loops[: number % 3]:
                if name in RELAYS:
                    rate = relay_rate(url, name, broker, args.jobs, args.batch)
                else:
                    bgmigrate.configure(backend="arq", broker_url=broker, outbox_url=url)
                    rate = lpush_rate(url, broker, args.jobs, args.batch)
                rates[name].append(rate)
            for name, baseline in CLIENTS.items():
                rates[name].append(baseline(url, broker, args.client_jobs, args.batch))
            for name, values in request_costs(url, args.requests).items():
                costs[name] += values
        print_rates(rates)
        outbox, plain = statistics.median(costs["outbox"]), statistics.median(costs["plain"])
        print(f"request with plain INSERT             {plain:9.0f} us")
        print(
            f"request with OutboxBatch              {outbox:9.0f} us   "
            f"x{outbox / plain:.2f} (goal <= 1.2)"
        )


if __name__ == "__main__":
    main()
