"""Jobs that run before their row is committed, and rows and jobs that miss each other.

Run it (real workers in subprocesses, a private ``redis-server`` as broker per backend; the
results go to the test Redis, ``BGMIGRATE_TEST_REDIS_URL``; PostgreSQL at ``--postgres-url``)::

    .venv/bin/python bench/commit_race.py [--requests 1000] [--outage-requests 300]
        [--outage-seconds 3] [--backends celery arq] [--databases sqlite postgresql]
        [--modes today after-commit]

For each backend x database x mode x commit placement (handler, function-scope dependency,
request-scope dependency teardown, middleware; see ``bgmigrate.testing.commit_race``):

- race: ``--requests`` requests, each inserting a row and queuing a task that reads it; counts
  the jobs that ran before their row was visible;
- outage: ``--outage-requests`` requests (more if the broker is not back by then), every
  tenth one's commit failing, with the broker stopped for ``--outage-seconds`` from the first
  third on; counts ``503`` responses, rows without jobs (and how many of those jobs a worker
  was holding when the broker stopped: they run again only after the visibility timeout or
  the in-progress mark) and jobs without rows once everything has run.

``today`` is bgmigrate without ``tasks.after_commit``; ``after-commit`` binds the session.
It prints one Markdown table; nothing is asserted (``tests/test_commit_race.py`` asserts).
"""

from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.testing import commit_race
from bgmigrate.testing.commit_race_run import (
    WORKER_ENV,
    Outage,
    Tally,
    run_requests,
    settle,
    tally,
    waiting,
)
from bgmigrate.testing.redis_servers import RedisServerFactory, configured_test_redis_url
from bgmigrate.testing.workers import WorkerFactory, bgmigrate_command

CONCURRENCY = {"celery": 2, "arq": 10}
"""Jobs a worker runs at once: 2 Celery processes (the machine's cores); arq's default 10
(arq takes at most that many jobs per poll, every 0.5 s)."""
HEADER = (
    "| backend | database | mode | commit in | requests | early | outage requests | 503 "
    "| rows without jobs | of which held by a worker | jobs without rows |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|"
)


def database_urls(names: list[str], postgres_url: str, workdir: Path) -> dict[str, str]:
    """The URL of each database to race on (a fresh SQLite file, the given PostgreSQL)."""
    urls = {"sqlite": f"sqlite:///{workdir / 'race.db'}", "postgresql": postgres_url}
    return {name: urls[name] for name in names}


def race(
    client: TestClient,
    db_url: str,
    placement: str,
    args: argparse.Namespace,
    outage: Outage,
    restart_worker: Callable[[], None],
) -> tuple[Tally, Tally, int]:
    """The race run and the outage run of one placement, each settled and counted, and the
    jobs a worker was holding when the broker stopped (see ``waiting``)."""
    run = run_requests(client, placement, args.requests)
    settle(run, outage.broker, args.backend)
    held_before = waiting(outage.broker, args.backend)[1]
    down = run_requests(client, placement, args.outage_requests, fail_every=10, outage=outage)
    restart_worker()
    settle(down, outage.broker, args.backend)
    held = waiting(outage.broker, args.backend)[1] - held_before
    return tally(db_url, run), tally(db_url, down), held


def bench_backend(backend: str, args: argparse.Namespace, urls: dict[str, str]) -> list[str]:
    """Table lines for one backend: a private broker, one worker, every database and mode."""
    servers, workers = RedisServerFactory(), WorkerFactory()
    try:
        broker = servers(aof=True)
        env = {**WORKER_ENV, "BGMIGRATE_BACKEND": backend, "BGMIGRATE_BROKER_URL": broker.url}
        argv = bgmigrate_command(backend, concurrency=CONCURRENCY[backend])
        started = [workers(argv, env=env)]

        def restart() -> None:
            # After the outage: a new Celery worker re-delivers unacknowledged messages at once.
            # (arq needed it too until ResilientWorker gave back the slot of a job it was
            # starting when Redis stopped; kept so that both backends are measured alike.)
            started[-1].stop()
            started.append(workers(argv, env=env))

        args.backend = backend
        outage = Outage(broker, after=args.outage_requests // 3, seconds=args.outage_seconds)
        lines = []
        for database, db_url in urls.items():
            commit_race.prepare_database(db_url)
            for mode in args.modes:
                bgmigrate.configure(backend=backend, broker_url=broker.url)
                app = commit_race.make_app(db_url, after_commit=mode == "after-commit")
                with TestClient(app, raise_server_exceptions=False) as client:
                    for placement in commit_race.PLACEMENTS:
                        fast, down, unacked = race(client, db_url, placement, args, outage, restart)
                        lines.append(
                            f"| {backend} | {database} | {mode} | {placement} | {fast.requests} "
                            f"| {fast.early} | {down.requests} | {down.refused} "
                            f"| {down.rows_without_jobs} | {unacked} | {down.jobs_without_rows} |"
                        )
                        print(lines[-1], flush=True)
        return lines
    finally:
        workers.close()
        servers.close()


def main() -> None:
    """Parse the arguments, race every combination and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--outage-requests", type=int, default=300)
    parser.add_argument("--outage-seconds", type=float, default=3.0)
    parser.add_argument("--backends", nargs="+", default=["celery", "arq"])
    parser.add_argument("--databases", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--modes", nargs="+", default=["today", "after-commit"])
    parser.add_argument(
        "--postgres-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/bgm_ac_bench"
    )
    args = parser.parse_args()
    os.environ.setdefault(commit_race.REDIS_URL_ENV, configured_test_redis_url())
    with tempfile.TemporaryDirectory(prefix="bgmigrate-race-") as workdir:
        urls = database_urls(args.databases, args.postgres_url, Path(workdir))
        lines = [line for backend in args.backends for line in bench_backend(backend, args, urls)]
    print(HEADER)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
