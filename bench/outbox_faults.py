"""Outbox faults at full scale: every scenario of tests/outbox/test_faults.py, with the broker
down for 30 s, printing what each lost, ran twice or ran uncommitted.

Run it (about 6 minutes; private PostgreSQL and redis-server processes, uvicorn, the relay and
the workers in subprocesses, all started and removed here)::

    .venv/bin/python bench/outbox_faults.py [--outage 30] [--jobs 3000] [--backends arq celery]

Each scenario gets a fresh database and broker. Figures: requests sent, orders committed (every
fifth request rolls back after ``add_task``), executions, then lost / duplicate / uncommitted
jobs, which must all be 0; the broker scenario also counts requests answered ``200`` during the
outage, and the relay scenario the second publications Celery workers dropped.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from bgmigrate.testing.outbox_app import create_tables, engine
from bgmigrate.testing.outbox_faults import (
    Rig,
    Tally,
    kill_relay,
    kill_web,
    restart_database,
    stop_broker,
)
from bgmigrate.testing.polling import WaitTimeout
from bgmigrate.testing.postgres_servers import PostgresServerFactory, create_database
from bgmigrate.testing.redis_servers import RedisServerFactory
from bgmigrate.testing.workers import WorkerFactory


def run(backend: str, name: str, scenario: Callable[..., object], **kwargs: object) -> None:
    """Run ``scenario`` on fresh private servers and print its tally."""
    databases, brokers, logs, processes = (
        PostgresServerFactory(),
        RedisServerFactory(),
        RedisServerFactory(),
        WorkerFactory(),
    )
    try:
        server = databases()
        url = create_database(server.url, prefix="bgm_ob").replace("://", "+psycopg://", 1)
        create_tables(url)
        broker = brokers(aof=True)
        rig = Rig(backend, url, broker.url, logs().url, processes, log=name)
        extra = {"server": server} if scenario is restart_database else {}
        extra |= {"broker": broker} if scenario is stop_broker else {}
        try:
            outcome = scenario(rig, **extra, **kwargs)
        except WaitTimeout as exc:  # says where the jobs are: committed, ran, missing, waiting
            print(f"{backend:<6} {name:<18} FAILED: {exc}", flush=True)
            return
        tally, note = outcome if isinstance(outcome, tuple) else (outcome, None)
        assert isinstance(tally, Tally)
        verdict = "OK" if tally.ok else "FAILED"
        print(
            f"{backend:<6} {name:<18} requests {tally.requests:5d}  "
            f"committed {tally.committed:5d}  ran {tally.ran:5d}  "
            f"lost {tally.lost}  duplicates {tally.duplicates}  "
            f"uncommitted {tally.uncommitted}  answered during fault {tally.answered_during_fault}"
            f"{'' if note is None else f'  second publications dropped {note}'}  {verdict}",
            flush=True,
        )
        engine(url).dispose()
    finally:
        processes.close()
        logs.close()
        brokers.close()
        databases.close()


def main() -> None:
    """Run every scenario for every backend asked for."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outage", type=float, default=30.0, help="seconds the broker is down")
    parser.add_argument("--jobs", type=int, default=3000, help="backlog the relay is killed in")
    parser.add_argument("--backends", nargs="+", default=["arq", "celery"])
    args = parser.parse_args()
    for backend in args.backends:
        run(backend, "kill-web", kill_web)
        run(backend, "kill-relay", kill_relay, jobs=args.jobs)
        run(backend, "restart-postgres", restart_database)
        run(backend, "stop-broker", stop_broker, seconds=args.outage)


if __name__ == "__main__":
    main()
