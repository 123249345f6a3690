"""Where a relay batch's time goes, per 1,000 jobs, next to the raw loop of ``bench/outbox.py``.

Run it (a private ``redis-server``; a new database on the test PostgreSQL,
``BGMIGRATE_TEST_POSTGRES_URL``, dropped at the end)::

    .venv/bin/python bench/outbox_costs.py [--jobs 1000] [--repeat 7]

- database: the relay's one ``DELETE ... RETURNING`` that takes a batch, against the raw loop's
  ``SELECT ... FOR UPDATE SKIP LOCKED`` and ``DELETE`` (each in a transaction rolled back, taking
  turns; medians).
- publishing: for the raw loop (an ``LPUSH`` of each payload, pipelined) and the ARQ and Celery
  backends given the relay's rows (``TaskBackend.relay``), the Python process time from fetched
  rows to commands sent and the wall time until Redis answered them all (best of ``--repeat``
  each), and the Redis server time of those commands (``INFO commandstats``, median). The wall
  time is less than the sum of the other two where Redis works while Python builds.

Nothing is asserted; docs/benchmarks.md ("Outbox") quotes these figures.
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

import bgmigrate
from bench.outbox import RAW_SELECT, fill, outbox_database
from bgmigrate.backend import new_job_id
from bgmigrate.outbox.relay import Relay
from bgmigrate.outbox.table import row_job
from bgmigrate.testing.outbox_app import record

RAW_DELETE = "DELETE FROM bgmigrate_outbox WHERE id = ANY(%s)"


def database_ms(url: str, broker: str, jobs: int, repeat: int) -> dict[str, float]:
    """Median milliseconds of taking ``jobs`` rows: the relay's statement and the raw loop's two."""
    runtime = bgmigrate.configure(backend="arq", broker_url=broker, outbox_url=url)
    fill(url, jobs)
    take = Relay(runtime.settings, runtime)._take
    times: dict[str, list[float]] = {"relay": [], "raw": []}
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        for _ in range(repeat):
            with conn.transaction(force_rollback=True):
                start = time.perf_counter()
                conn.execute(take, (jobs,)).fetchall()
                times["relay"].append(time.perf_counter() - start)
            with conn.transaction(force_rollback=True):
                start = time.perf_counter()
                rows = conn.execute(RAW_SELECT, (jobs,)).fetchall()
                conn.execute(RAW_DELETE, ([row[0] for row in rows],))
                times["raw"].append(time.perf_counter() - start)
        conn.execute("DELETE FROM bgmigrate_outbox")
    return {name: statistics.median(values) * 1e3 for name, values in times.items()}


def publishers(broker: str, jobs: int) -> dict[str, Callable[[], None]]:
    """Each way of publishing ``jobs`` rows, from rows as fetched to commands sent."""
    client = redis.Redis.from_url(broker)
    raw_rows = [
        (n, new_job_id(), record.name, {"args": ["bench", n], "kwargs": {}}) for n in range(jobs)
    ]
    relay_rows = [(new_job_id(), f'["bench", {n}]', "{}") for n in range(jobs)]

    def raw() -> None:
        with client.pipeline(transaction=False) as pipe:
            for _, _, _, payload in raw_rows:
                pipe.lpush("raw-queue", json.dumps(payload))
            pipe.execute()

    def relay_to(name: str) -> Callable[[], None]:
        backend = bgmigrate.configure(backend=name, broker_url=broker).backend(name)

        def publish() -> None:
            publish_id = new_job_id()
            backend.relay(
                [
                    row_job(job_id, record.name, (a, k), None, publish_id)
                    for job_id, a, k in relay_rows
                ]
            )

        return publish

    return {"raw loop": raw, "relay to arq": relay_to("arq"), "relay to celery": relay_to("celery")}


def publishing_ms(
    broker: str, publish: Callable[[], None], repeat: int
) -> tuple[float, float, float]:
    """Best Python process time, best wall time and median Redis server time of ``publish``,
    in milliseconds."""
    client = redis.Redis.from_url(broker)
    python, wall, server = [], [], []
    for _ in range(repeat):
        client.flushdb()
        client.config_resetstat()
        start, started = time.process_time(), time.perf_counter()
        publish()
        wall.append(time.perf_counter() - started)
        python.append(time.process_time() - start)
        stats: dict[str, Any] = client.info("commandstats")  # type: ignore[assignment]
        own = ("cmdstat_flushdb", "cmdstat_config", "cmdstat_info")
        server.append(sum(v["usec"] for k, v in stats.items() if k not in own) / 1e3)
    client.flushdb()
    return min(python) * 1e3, min(wall) * 1e3, statistics.median(server)


def main() -> None:
    """Measure and print every figure."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    with outbox_database("bgm_ob_costs") as (url, broker):
        taken = database_ms(url, broker, args.jobs, args.repeat * 4)
        print(f"taking {args.jobs} rows: relay {taken['relay']:.2f} ms, raw {taken['raw']:.2f} ms")
        for name, publish in publishers(broker, args.jobs).items():
            python, wall, server = publishing_ms(broker, publish, args.repeat)
            print(
                f"{name:<16} Python {python:6.2f} ms   Redis server {server:6.2f} ms   "
                f"wall {wall:6.2f} ms"
            )


if __name__ == "__main__":
    main()
