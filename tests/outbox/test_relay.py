"""The relay moves committed rows to real brokers, in order, and deletes them; a job it
publishes twice (it died before deleting its rows) runs once on real workers; the batch it
takes ahead goes back to the outbox with a failed batch, and when it stops."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
import redis
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import bgmigrate
from bgmigrate.cli import app
from bgmigrate.outbox import OutboxBatch
from bgmigrate.outbox.relay import Relay
from bgmigrate.testing.conformance_tasks import REDIS_URL_ENV
from bgmigrate.testing.outbox_app import engine, ran, record
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServerFactory
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess, bgmigrate_command

FAIL_DELETES = """
CREATE FUNCTION fail_delete() RETURNS trigger LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'relay died before committing its batch'; END $$;
CREATE CONSTRAINT TRIGGER fail_delete AFTER DELETE ON bgmigrate_outbox
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_delete();
"""


def commit_tasks(url: str, log: str, numbers: range) -> None:
    with Session(engine(url)) as session:
        tasks = OutboxBatch(session)
        for n in numbers:
            tasks.add_task(record, log, n)
        session.commit()


def outbox_count(url: str, where: str = "true") -> int:
    with engine(url).connect() as conn:
        return int(
            conn.execute(text(f"SELECT count(*) FROM bgmigrate_outbox WHERE {where}")).scalar_one()
        )


def start_worker(worker_factory: WorkerFactory, backend: str, redis_url: str) -> WorkerProcess:
    env = {
        "BGMIGRATE_TASK_MODULES": "bgmigrate.testing.outbox_app",
        "BGMIGRATE_BROKER_URL": redis_url,
        REDIS_URL_ENV: redis_url,
    }
    return worker_factory(bgmigrate_command(backend, concurrency=1), env=env)


@contextmanager
def relay_to(backend: str, broker_url: str, outbox_url: str, **settings: Any) -> Iterator[Relay]:
    """A relay to ``backend`` (configured so, with ``settings``), closed at the end."""
    runtime = bgmigrate.configure(
        backend=backend, broker_url=broker_url, outbox_url=outbox_url, **settings
    )
    relay = Relay(runtime.settings, runtime)
    try:
        yield relay
    finally:
        relay.close()


@contextmanager
def failing_commits(url: str) -> Iterator[None]:
    """Inside, a relay's commit fails after it published: as if it died before committing."""
    with engine(url).begin() as conn:
        conn.exec_driver_sql(FAIL_DELETES)
    yield
    with engine(url).begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER fail_delete ON bgmigrate_outbox")


def relay_all(relay: Relay) -> None:
    while relay.relay_batch():
        pass


def free_rows(url: str) -> int:
    """Rows another relay could take now (not locked by a batch in flight)."""
    return outbox_count(url, "id IN (SELECT id FROM bgmigrate_outbox FOR UPDATE SKIP LOCKED)")


def celery_numbers(broker_url: str) -> list[int]:
    """The ``n`` of each ``record(log, n)`` message in Celery's default queue, in the order a
    worker takes them."""
    with redis.Redis.from_url(broker_url) as client:
        raw = cast(list[bytes], client.lrange("celery", 0, -1))
    return [json.loads(base64.b64decode(json.loads(item)["body"]))[0][1] for item in raw[::-1]]


@pytest.mark.parametrize("backend", ["arq", "celery"])
def test_committed_jobs_run_in_order_and_their_rows_are_deleted(
    backend: str, outbox_url: str, redis_url: str, task_log: str, worker_factory: WorkerFactory
) -> None:
    with relay_to(backend, redis_url, outbox_url, outbox_batch_size=7) as relay:
        commit_tasks(outbox_url, task_log, range(20))
        relay_all(relay)
    assert outbox_count(outbox_url) == 0
    start_worker(worker_factory, backend, redis_url)
    wait_until(lambda: len(ran(task_log)) >= 20, timeout=60, what="20 jobs to run")
    assert ran(task_log) == list(range(20))


@pytest.mark.parametrize("backend", ["arq", "celery"])
def test_a_batch_published_again_after_a_failed_commit_runs_once(
    backend: str, outbox_url: str, redis_url: str, task_log: str, worker_factory: WorkerFactory
) -> None:
    with relay_to(backend, redis_url, outbox_url) as relay:
        commit_tasks(outbox_url, task_log, range(5))
        with failing_commits(outbox_url):
            with pytest.raises(Exception, match="relay died before committing"):
                relay.relay_batch()  # published, then the transaction rolled back: rows stay
            assert outbox_count(outbox_url) == 5
        relay_all(relay)  # the same jobs, published a second time
    assert outbox_count(outbox_url) == 0
    worker = start_worker(worker_factory, backend, redis_url)
    wait_until(lambda: len(ran(task_log)) >= 5, timeout=60, what="5 jobs to run")
    if backend == "celery":
        worker.wait_for_log("published again by the outbox relay")
    assert sorted(ran(task_log)) == list(range(5))


@pytest.mark.parametrize(
    ("task", "payload", "error"),
    [
        ("app.gone", '{"args": [], "kwargs": {}}', "%no task is registered as ''app.gone''%"),
        (record.name, '{"args": "x", "kwargs": {}}', "%not an args array and a kwargs object%"),
    ],
)
def test_a_row_that_cannot_become_a_job_keeps_its_error_and_is_skipped(
    task: str, payload: str, error: str, outbox_url: str, redis_url: str, task_log: str
) -> None:
    with relay_to("arq", redis_url, outbox_url) as relay:
        with engine(outbox_url).begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO bgmigrate_outbox (job_id, task, backend, payload) "
                "VALUES ('j1', %(task)s, 'arq', %(payload)s)",
                {"task": task, "payload": payload},
            )
        commit_tasks(outbox_url, task_log, range(1))
        assert relay.relay_batch() == 2
        assert relay.relay_batch() == 0
    assert outbox_count(outbox_url, f"error LIKE '{error}'") == 1
    assert outbox_count(outbox_url) == 1


def test_a_worker_started_with_relay_runs_the_committed_jobs(
    outbox_url: str, redis_url: str, task_log: str, worker_factory: WorkerFactory
) -> None:
    bgmigrate.configure(backend="arq", broker_url=redis_url)
    env = {
        "BGMIGRATE_TASK_MODULES": "bgmigrate.testing.outbox_app",
        "BGMIGRATE_BROKER_URL": redis_url,
        "BGMIGRATE_OUTBOX_URL": outbox_url,
        REDIS_URL_ENV: redis_url,
    }
    worker = worker_factory([*bgmigrate_command("arq"), "--relay"], env=env)
    worker.wait_for_log("relay started")
    commit_tasks(outbox_url, task_log, range(3))
    wait_until(lambda: len(ran(task_log)) >= 3, timeout=60, what="3 jobs to run")
    assert sorted(ran(task_log)) == [0, 1, 2]
    assert outbox_count(outbox_url) == 0


def test_relay_without_a_database_url_stops_the_worker_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "bgmigrate.testing.outbox_app")
    result = CliRunner().invoke(app, ["worker", "--backend", "arq", "--relay"])
    assert result.exit_code == 2
    assert "--relay needs BGMIGRATE_OUTBOX_URL" in result.output


def test_a_failed_batch_takes_the_batch_taken_ahead_back_with_it(
    outbox_url: str, redis_server_factory: RedisServerFactory, task_log: str
) -> None:
    broker_url = redis_server_factory().url
    with relay_to("celery", broker_url, outbox_url, outbox_batch_size=3) as relay:
        commit_tasks(outbox_url, task_log, range(7))
        with failing_commits(outbox_url):
            with pytest.raises(Exception, match="relay died before committing"):
                relay.relay_batch()  # 0-2 published, 3-5 taken ahead, then the commit failed
            assert celery_numbers(broker_url) == [0, 1, 2]
            assert free_rows(outbox_url) == 7
        relay_all(relay)
    assert outbox_count(outbox_url) == 0
    # The failed batch again, then the rest in order: nothing of 3-5 went before it.
    assert celery_numbers(broker_url) == [0, 1, 2, 0, 1, 2, 3, 4, 5, 6]


def test_a_stopped_relay_leaves_the_batch_it_took_ahead_in_the_outbox(
    outbox_url: str, redis_server_factory: RedisServerFactory, task_log: str
) -> None:
    broker_url = redis_server_factory().url
    with relay_to("arq", broker_url, outbox_url, outbox_batch_size=3) as relay:
        commit_tasks(outbox_url, task_log, range(7))
        assert relay.relay_batch() == 3
        assert free_rows(outbox_url) == 1  # 3-5 are taken ahead, uncommitted
    assert free_rows(outbox_url) == 4
    with relay_to("arq", broker_url, outbox_url, outbox_batch_size=3) as relay:
        relay_all(relay)
    assert outbox_count(outbox_url) == 0
    with redis.Redis.from_url(broker_url) as client:
        assert client.zcard("arq:queue") == 7
