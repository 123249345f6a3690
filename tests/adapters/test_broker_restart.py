"""Redis is killed under a running worker and comes back on the same port: the worker outlives
it, says so in its log, and runs what is enqueued afterwards — an arq worker with all of its
slots, whether its jobs were running or being started when Redis went.

The broker is a private ``redis-server``; results and the tasks' own log live in the test
Redis, which stays up.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis
from arq.constants import in_progress_key_prefix

import bgmigrate
from bgmigrate.errors import EnqueueError
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import WAIT, start_backend
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServer, RedisServerFactory, answers
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess, bgmigrate_command

DOWN_FOR = 2.0
"""Seconds the broker stays down."""
OUTAGE_LOGGED = {
    "arq": r"Redis is unreachable",
    "celery": r"Connection to broker lost|Cannot connect to redis",
}
"""What each worker logs when it notices the broker is gone."""
SLOTS = 2
"""Jobs the arq worker runs at once in the slot tests."""
START_DELAY = 3.0
"""Seconds before a job is due: the test pauses Redis's writes in that time."""


@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_a_worker_rides_out_a_redis_restart_and_runs_what_is_enqueued_after_it(
    backend: str,
    redis_url: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = redis_server_factory()
    argv = bgmigrate_command(backend, concurrency=1)
    under_test = start_backend(backend, redis_url, worker_factory, broker_url=broker.url, argv=argv)
    worker = under_test.worker
    assert worker is not None
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    bgmigrate.configure(**under_test.settings)
    assert tasks.add.enqueue(1, 2).result(timeout=WAIT) == 3

    broker.kill()
    killed = time.monotonic()
    worker.wait_for_log(OUTAGE_LOGGED[backend])
    with pytest.raises(EnqueueError):
        tasks.add.enqueue(2, 2)
    wait_until(
        lambda: time.monotonic() - killed >= DOWN_FOR and worker.alive,
        timeout=WAIT,
        what=f"{DOWN_FOR} s of outage with the worker still running",
    )
    broker.start()
    assert answers(broker.url)

    handle = tasks.add.enqueue(3, 4)
    assert handle.result(timeout=WAIT) == 7
    assert worker.alive
    if backend == "arq":
        worker.wait_for_log("Redis is reachable again")
    with redis.Redis.from_url(broker.url) as client:
        assert client.ping()


def test_arq_jobs_running_through_a_redis_restart_free_their_slots(
    redis_url: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = redis_server_factory(aof=True)  # the queue outlives the restart, as in production
    # An abandoned job runs again after 1 s, and a running job's mark is renewed meanwhile.
    env = {"BGMIGRATE_IN_PROGRESS_TIMEOUT": "1"}
    worker, queue = start_arq_worker(redis_url, broker, worker_factory, monkeypatch, env)
    results = redis.Redis.from_url(redis_url)
    before, after = f"slots-{uuid.uuid4().hex[:8]}", f"slots-{uuid.uuid4().hex[:8]}"
    for job in range(SLOTS):
        tasks.gated.enqueue(before, job)
    started(results, before, set(range(SLOTS)))

    broker.stop()  # every slot holds a running job
    worker.wait_for_log("could not renew the in-progress mark")
    results.set(f"{before}:open", 1)  # the jobs finish while Redis is down
    wait_until(lambda: done(results, before) == set(range(SLOTS)), timeout=WAIT, what="the jobs")
    broker.start()

    # The worker runs SLOTS jobs at once again: each waits until all of them have started.
    for job in range(SLOTS):
        tasks.gated.enqueue(after, job)
    started(results, after, set(range(SLOTS)))
    results.set(f"{after}:open", 1)
    wait_until(lambda: done(results, after) == set(range(SLOTS)), timeout=WAIT, what="new jobs")
    # The jobs that ran through the outage (their end not recorded) ran again; no mark is left.
    settled(broker, queue)
    assert runs(results, before) == dict.fromkeys(range(SLOTS), 2)
    assert worker.alive


def test_an_arq_job_being_started_when_redis_dies_does_not_take_a_slot_for_good(
    redis_url: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    broker = redis_server_factory(aof=True)
    worker, queue = start_arq_worker(redis_url, broker, worker_factory, monkeypatch, {})
    results = redis.Redis.from_url(redis_url)
    run = f"slots-{uuid.uuid4().hex[:8]}"
    # Redis dies while the worker starts the jobs that fell due in one poll: reads answer, the
    # transaction marking the first job in progress waits (writes paused) until Redis is killed
    # under it, and the worker's start of the next job finds Redis gone.
    for job in range(SLOTS):
        tasks.gated.using(delay=START_DELAY).enqueue(run, job)
    with redis.Redis.from_url(broker.url) as client:
        client.client_pause(int(WAIT * 1000), all=False)  # writes only
        wait_until(
            lambda: any({"x", "b"} <= set(c["flags"]) for c in client.client_list()),
            timeout=WAIT,
            what="the worker's transaction marking a job in progress, held by the pause",
        )
    assert not results.exists(f"{run}:runs"), f"a job started within {START_DELAY} s: too slow"
    broker.kill()
    worker.wait_for_log(OUTAGE_LOGGED["arq"])
    broker.start()

    # Both jobs run, at once: the worker still has all its slots (each job waits for the other).
    started(results, run, set(range(SLOTS)))
    results.set(f"{run}:open", 1)
    wait_until(lambda: done(results, run) == set(range(SLOTS)), timeout=WAIT, what="the jobs")
    settled(broker, queue)
    assert runs(results, run) == dict.fromkeys(range(SLOTS), 1)


def start_arq_worker(
    redis_url: str,
    broker: RedisServer,
    workers: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
) -> tuple[WorkerProcess, str]:
    """``bgmigrate worker --backend arq`` with SLOTS slots on ``broker`` (results and the
    tasks' records in ``redis_url``), the runtime configured for it; the worker and its queue."""
    argv = bgmigrate_command("arq", concurrency=SLOTS)
    under_test = start_backend("arq", redis_url, workers, broker_url=broker.url, argv=argv, env=env)
    assert under_test.worker is not None
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    bgmigrate.configure(**under_test.settings)
    return under_test.worker, under_test.settings["default_queue"]


def started(results: redis.Redis, run: str, jobs: set[int]) -> None:
    """Wait until every job in ``jobs`` of ``run`` has started (they are gated: all at once)."""

    wait_until(
        lambda: set(runs(results, run)) >= jobs,
        timeout=WAIT,
        what=f"jobs {sorted(jobs)} of {run} running at once",
    )


def runs(results: redis.Redis, run: str) -> dict[int, int]:
    """Executions of the jobs of ``run`` started so far, by job number."""
    raw: dict[bytes, bytes] = results.hgetall(f"{run}:runs")  # type: ignore[assignment]
    return {int(job): int(count) for job, count in raw.items()}


def done(results: redis.Redis, run: str) -> set[int]:
    """The jobs of ``run`` that ran to completion."""
    members: set[bytes] = results.smembers(f"{run}:done")  # type: ignore[assignment]
    return {int(job) for job in members}


def settled(broker: RedisServer, queue: str) -> None:
    """Wait until ``broker`` holds no job: none queued, none marked in progress."""
    with redis.Redis.from_url(broker.url) as client:
        wait_until(
            lambda: not client.keys(f"{in_progress_key_prefix}*") and not client.zcard(queue),
            timeout=WAIT,
            what="no job queued or marked in progress",
        )
