"""Outbox costs, each against its raw equivalent, side by side in one run.

Run it (a private ``redis-server`` is the broker; the database is a new one on the test
PostgreSQL, ``BGMIGRATE_TEST_POSTGRES_URL``, dropped at the end)::

    .venv/bin/python bench/outbox.py [--jobs 20000] [--batch 1000] [--requests 300] [--rounds 5]

- relay: ``bgmigrate relay``'s loop (``Relay.relay_batch``) moving ``--jobs`` rows to ARQ and
  to Celery, against a raw loop over the same rows: ``SELECT ... FOR UPDATE SKIP LOCKED``,
  ``LPUSH`` of each row's payload (pipelined), ``DELETE``, ``COMMIT``. Goal: >= 0.8x the raw
  throughput, and >= 5,000 jobs/s.
- insert: a request's transaction (insert an order row, add its task, commit) with
  ``OutboxBatch.add_task`` against the same transaction writing the same outbox row with a
  plain ``INSERT``. Goal: <= 1.2x.

Medians over ``--rounds`` interleaved rounds. Timings are not asserted anywhere.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import psycopg
import redis
from sqlalchemy import insert
from sqlalchemy.orm import Session

import bgmigrate
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

RAW_SELECT = "SELECT id, payload FROM bgmigrate_outbox ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"


def fill(url: str, jobs: int) -> None:
    """Commit ``jobs`` outbox rows, 500 per transaction."""
    for start in range(0, jobs, 500):
        with Session(engine(url)) as session:
            tasks = OutboxBatch(session)
            for n in range(start, min(start + 500, jobs)):
                tasks.add_task(record, "bench", n)
            session.commit()


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
    return jobs / elapsed


def raw_rate(url: str, broker: str, jobs: int, batch: int) -> float:
    """Jobs per second of the raw SKIP LOCKED + LPUSH loop over ``jobs`` rows."""
    bgmigrate.configure(backend="arq", broker_url=broker, outbox_url=url)
    fill(url, jobs)
    client = redis.Redis.from_url(broker)
    start = time.perf_counter()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        while True:
            with conn.transaction():
                rows = conn.execute(RAW_SELECT, (batch,)).fetchall()
                if not rows:
                    break
                with client.pipeline(transaction=False) as pipe:
                    for _, payload in rows:
                        pipe.lpush("raw-queue", json.dumps(payload))
                    pipe.execute()
                conn.execute(
                    "DELETE FROM bgmigrate_outbox WHERE id = ANY(%s)", ([r[0] for r in rows],)
                )
    elapsed = time.perf_counter() - start
    client.delete("raw-queue", "celery", "arq:queue")
    client.close()
    return jobs / elapsed


def request_cost(url: str, requests: int, add: Callable[[Session, int], None]) -> float:
    """Microseconds per request transaction: insert an order, ``add`` its task, commit."""
    start = time.perf_counter()
    for n in range(requests):
        with Session(engine(url)) as session:
            session.execute(insert(orders).values(log="bench", n=n))
            add(session, n)
            session.commit()
    return (time.perf_counter() - start) / requests * 1e6


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


def main() -> None:
    """Measure and print every figure with its ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    servers = RedisServerFactory()
    database = create_database(configured_test_postgres_url(), prefix="bgm_ob_bench")
    url = database.replace("://", "+psycopg://", 1)
    try:
        create_tables(url)
        broker = servers().url
        rates: dict[str, list[float]] = {"arq": [], "celery": [], "raw": []}
        costs: dict[str, list[float]] = {"outbox": [], "plain": []}
        for _ in range(args.rounds):
            for backend in ("arq", "celery"):
                rates[backend].append(relay_rate(url, backend, broker, args.jobs, args.batch))
            rates["raw"].append(raw_rate(url, broker, args.jobs, args.batch))
            bgmigrate.configure(backend="arq", broker_url=broker, outbox_url=url)
            costs["outbox"].append(request_cost(url, args.requests, with_outbox))
            costs["plain"].append(request_cost(url, args.requests, with_plain_insert))
        raw = statistics.median(rates["raw"])
        print(f"raw SKIP LOCKED + LPUSH loop  {raw:9.0f} jobs/s")
        for backend in ("arq", "celery"):
            rate = statistics.median(rates[backend])
            print(
                f"relay to {backend:<6}               {rate:9.0f} jobs/s   "
                f"x{rate / raw:.2f} of raw (goal >= 0.8, >= 5000/s)"
            )
        outbox, plain = statistics.median(costs["outbox"]), statistics.median(costs["plain"])
        print(f"request with plain INSERT     {plain:9.0f} us")
        print(
            f"request with OutboxBatch      {outbox:9.0f} us   x{outbox / plain:.2f} (goal <= 1.2)"
        )
    finally:
        engine(url).dispose()
        drop_database(database)
        servers.close()


if __name__ == "__main__":
    main()
