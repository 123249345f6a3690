"""Issue #14 reproduced on real workers: commits in four places, jobs that read the row.

Each test starts a real Celery or arq worker on a private broker, sends requests to each commit
placement of :mod:`bgmigrate.testing.commit_race` (every fifth one's commit fails) and waits
until the queue is empty. Without ``tasks.after_commit``, a commit that fails after the
dispatch leaves a job without its row (the job already ran); with it, every committed row has
its job, after the commit, and no job runs for a row that was rolled back. How often a job
runs *before* its row is committed is a race: ``bench/commit_race.py`` counts it over 1,000
requests (see docs/guarantees.md); here the after-commit runs assert it never happens.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.runtime import get_runtime
from bgmigrate.testing import commit_race
from bgmigrate.testing.commit_race_run import WORKER_ENV, Run, run_requests, tally, waiting
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServer, RedisServerFactory
from bgmigrate.testing.workers import WorkerFactory, bgmigrate_command

pytestmark = pytest.mark.slow

REQUESTS = 20
FAIL_EVERY = 5
FAILED = REQUESTS // FAIL_EVERY
TEARDOWN_PLACEMENTS = [p for p in commit_race.PLACEMENTS if p != "handler"]


@dataclass(frozen=True)
class Race:
    """A worker of ``backend`` on ``broker``, and the database its tasks read."""

    backend: str
    broker: RedisServer
    db_url: str


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database with the race's table, SQLite or PostgreSQL (psycopg 3)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'race.db'}"
    else:
        postgres: str = request.getfixturevalue("postgres_url")
        url = postgres.replace("postgresql://", "postgresql+psycopg://", 1)
    commit_race.prepare_database(url)
    return url


@pytest.fixture(params=["celery", "arq"])
def race(
    request: pytest.FixtureRequest,
    db_url: str,
    redis_url: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Race]:
    """A worker of each backend on a private broker, results in the test Redis."""
    backend: str = request.param
    broker = redis_server_factory()
    monkeypatch.setenv(commit_race.REDIS_URL_ENV, redis_url)
    env = {**WORKER_ENV, "BGMIGRATE_BACKEND": backend, "BGMIGRATE_BROKER_URL": broker.url}
    env[commit_race.REDIS_URL_ENV] = redis_url
    worker_factory(bgmigrate_command(backend, concurrency=2), env=env)
    bgmigrate.configure(backend=backend, broker_url=broker.url)
    yield Race(backend, broker, db_url)
    commit_race.dispose_engines()


def finished(race: Race, run: Run, jobs: int) -> None:
    """Wait until ``jobs`` jobs of ``run`` have reported and nothing is left to run."""

    def done() -> bool:
        idle = not len(get_runtime().spool) and waiting(race.broker, race.backend) == (0, 0)
        return idle and len(commit_race.read_results(run.log)) >= jobs

    wait_until(done, timeout=60, what=f"{jobs} jobs of {run.placement}")


def test_today_a_commit_that_fails_after_the_dispatch_leaves_jobs_without_rows(
    race: Race,
) -> None:
    app = commit_race.make_app(race.db_url, after_commit=False)
    with TestClient(app, raise_server_exceptions=False) as client:
        runs = {
            p: run_requests(client, p, REQUESTS, fail_every=FAIL_EVERY) for p in TEARDOWN_PLACEMENTS
        }
        for run in runs.values():
            finished(race, run, REQUESTS)
    tallies = {p: tally(race.db_url, run) for p, run in runs.items()}
    assert {p: t.jobs_without_rows for p, t in tallies.items()} == dict.fromkeys(runs, FAILED)
    assert {p: t.rows_without_jobs for p, t in tallies.items()} == dict.fromkeys(runs, 0)


def test_after_commit_every_row_gets_its_job_after_the_commit_and_no_job_runs_without_one(
    race: Race,
) -> None:
    app = commit_race.make_app(race.db_url, after_commit=True)
    with TestClient(app, raise_server_exceptions=False) as client:
        runs = {
            p: run_requests(client, p, REQUESTS, fail_every=FAIL_EVERY)
            for p in commit_race.PLACEMENTS
        }
        for run in runs.values():
            finished(race, run, REQUESTS - FAILED)
    tallies = {p: tally(race.db_url, run) for p, run in runs.items()}
    for placement, counted in tallies.items():
        assert (counted.rows, counted.jobs) == (REQUESTS - FAILED,) * 2, placement
        assert (counted.early, counted.rows_without_jobs, counted.jobs_without_rows) == (0, 0, 0)
