"""Workers killed, stopped and fed a poison task: no job is lost (private Redis and workers).

Each test has its own ``redis-server`` and worker processes. Recovery is made quick by the
settings that bound it: Celery's ``VISIBILITY_TIMEOUT`` and ARQ's ``IN_PROGRESS_TIMEOUT``.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import redis

import bgmigrate
from bgmigrate.backend import TaskStatus
from bgmigrate.errors import TaskFailed
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import BackendUnderTest, events, start_backend
from bgmigrate.testing.polling import WaitTimeout, wait_until
from bgmigrate.testing.redis_servers import RedisServer, RedisServerFactory
from bgmigrate.testing.workers import (
    WorkerFactory,
    WorkerProcess,
    bgmigrate_command,
    celery_command,
)

JOBS = 500
KILLS = 3
RECOVERY = 1
"""Seconds after which the jobs of a dead worker are delivered again (both backends)."""
FAST_RECOVERY = {
    "celery": {"BGMIGRATE_VISIBILITY_TIMEOUT": str(RECOVERY)},
    "arq": {"BGMIGRATE_IN_PROGRESS_TIMEOUT": str(RECOVERY)},
}
KILL_RUN = {"celery": ("2", 0.01), "arq": ("50", 0.1)}
"""Concurrency and job duration per backend for the kill test: arq polls its queue every 0.5 s,
so it needs more jobs at once (and a kill must find some running)."""
CELERY_UNACKED_INDEX = "unacked_index"
"""kombu's Redis transport: delivered, unacknowledged messages by delivery time."""


@dataclass
class Tally:
    """What :func:`~bgmigrate.testing.conformance_tasks.tally` jobs of one run recorded."""

    client: redis.Redis
    run: str

    def runs(self) -> dict[int, int]:
        """Executions started, by job number."""
        raw: dict[bytes, bytes] = self.client.hgetall(f"{self.run}:runs")  # type: ignore[assignment]
        return {int(job): int(count) for job, count in raw.items()}

    def done(self) -> set[int]:
        """Jobs that ran to completion."""
        members: set[bytes] = self.client.smembers(f"{self.run}:done")  # type: ignore[assignment]
        return {int(job) for job in members}

    def wait_done(self, jobs: set[int], timeout: float = 60) -> None:
        """Wait until every job in ``jobs`` has completed."""
        wait_until(
            lambda: jobs <= self.done(), timeout=timeout, what=f"{len(jobs)} jobs of {self.run}"
        )

    def wait_running_after(self, count: int, timeout: float = 60) -> None:
        """Wait until ``count`` jobs have completed and some job is running, both seen at once.

        Polled every few milliseconds, not with ``wait_until``'s growing interval: a worker
        running 50 jobs at a time gets through the whole run in about a second.
        """
        deadline = time.monotonic() + timeout
        while not (len(self.done()) >= count and self.in_flight()):
            if time.monotonic() > deadline:
                raise WaitTimeout(f"timed out after {timeout:g}s: {count} jobs done, one running")
            time.sleep(0.002)

    def in_flight(self) -> set[int]:
        """Jobs started and not completed (call with no worker running)."""
        return set(self.runs()) - self.done()


def start_worker(
    backend: str,
    server: RedisServer,
    workers: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
    **env: str,
) -> BackendUnderTest:
    """A worker on a private server, with quick recovery; the runtime configured for it."""
    # `bgmigrate worker` for arq: it applies IN_PROGRESS_TIMEOUT to jobs not yet started, too.
    argv = celery_command(concurrency=2) if backend == "celery" else bgmigrate_command("arq")
    env = {**FAST_RECOVERY[backend], "BGMIGRATE_WORKER_CONCURRENCY": "2", **env}
    started = start_backend(backend, server.url, workers, argv=argv, env=env)
    monkeypatch.setenv(tasks.REDIS_URL_ENV, server.url)
    bgmigrate.configure(**started.settings)
    return started


def restart(worker: WorkerProcess, workers: WorkerFactory) -> WorkerProcess:
    """The same worker command started again, with a fresh log."""
    return workers(worker.argv, env=worker.env)


def celery_unacked_are_due(client: redis.Redis) -> Callable[[], bool]:
    """Whether every unacknowledged Celery message is older than the visibility timeout.

    kombu re-delivers such messages when a worker starts (then only every ~100 s), so a worker
    restarted after this point picks them up at once.
    """

    def probe() -> bool:
        newest = client.zrevrange(CELERY_UNACKED_INDEX, 0, 0, withscores=True)
        return not newest or newest[0][1] < time.time() - RECOVERY  # type: ignore[index]

    return probe


@pytest.mark.slow
@pytest.mark.timeout(300)  # three restarts of a worker on 2 shared cores
@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_every_job_completes_although_the_worker_is_killed_three_times(
    backend: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
    record_property: Callable[[str, object], None],
) -> None:
    server = redis_server_factory()
    concurrency, seconds = KILL_RUN[backend]
    env = {"BGMIGRATE_WORKER_CONCURRENCY": concurrency}
    worker = start_worker(backend, server, worker_factory, monkeypatch, **env).worker
    assert worker is not None
    run = f"kill-{uuid.uuid4().hex[:8]}"
    tally = Tally(redis.Redis.from_url(server.url), run)
    # Each job has an idempotency key, as a client that may send a request twice would.
    for job in range(JOBS):
        tasks.tally.using(key=f"{run}:{job}").enqueue(run, job, seconds)
    interrupted: list[set[int]] = []
    for kill in range(1, KILLS + 1):
        # Kills spread over the first part of the run, so that work is left after the last one.
        tally.wait_running_after(kill * JOBS // (KILLS + 2))
        worker.kill()  # SIGKILL to the whole process group, pool children included
        interrupted.append(tally.in_flight())
        if backend == "celery":
            wait_until(celery_unacked_are_due(tally.client), timeout=10, what="redelivery due")
        worker = restart(worker, worker_factory)
        tally.wait_done(interrupted[-1])  # the interrupted jobs ran again before the next kill
    # Generous: on a loaded machine the 500 jobs after the last restart took over 60 s.
    tally.wait_done(set(range(JOBS)), timeout=180)
    runs = tally.runs()
    # The same jobs sent again (a client retrying) are not enqueued again: their keys are held.
    for job in range(JOBS):
        tasks.tally.using(key=f"{run}:{job}").enqueue(run, job, seconds)
    tasks.tally.enqueue(run, JOBS, 0.2)  # a marker queued behind them
    tally.wait_done({JOBS})
    assert tally.runs() == {**runs, JOBS: 1}
    lost = JOBS - len(tally.done() - {JOBS})
    duplicates = sum(runs.values()) - len(runs)
    record_property("duplicate_executions", duplicates)
    print(f"{backend}: {JOBS} jobs, {KILLS} kills, {lost} lost, {duplicates} duplicate executions")
    assert lost == 0
    assert any(interrupted), "no kill interrupted a running job: the test proved nothing"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_sigterm_lets_running_jobs_finish_or_requeues_them(
    backend: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    drain = 2.0
    server = redis_server_factory()
    env = {"BGMIGRATE_DRAIN_TIMEOUT": str(drain)}
    worker = start_worker(backend, server, worker_factory, monkeypatch, **env).worker
    assert worker is not None
    run = f"term-{uuid.uuid4().hex[:8]}"
    tally = Tally(redis.Redis.from_url(server.url), run)
    tasks.atally.enqueue(run, 0, 0.5)  # finishes within the drain deadline
    tasks.atally.enqueue(run, 1, 2 * drain)  # does not: it is stopped and runs again later
    for job in range(2, 8):
        tasks.tally.enqueue(run, job)  # waiting behind them
    wait_until(lambda: set(tally.runs()) == {0, 1}, timeout=30, what="jobs 0 and 1 running")
    # Celery waits for running tasks without limit: the deadline is the supervisor's SIGKILL.
    # arq waits DRAIN_TIMEOUT, then cancels running jobs and puts them back in the queue.
    exited = worker.terminate(deadline=drain + 0.5 if backend == "celery" else 30)
    assert exited is (backend == "arq")
    assert tally.done() == {0}
    assert tally.runs() == {0: 1, 1: 1}
    if backend == "celery":
        wait_until(celery_unacked_are_due(tally.client), timeout=10, what="redelivery due")
    worker = restart(worker, worker_factory)
    tally.wait_done({1, *range(2, 8)}, timeout=90)
    assert tally.runs()[1] == 2
    assert all(tally.runs()[job] == 1 for job in range(2, 8))


@pytest.mark.parametrize("backend", ["celery", "arq"])
def test_a_poison_task_fails_after_its_attempts_without_holding_up_other_jobs(
    backend: str,
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = redis_server_factory()
    # One job at a time: a retry that waited in the worker would block every job behind it.
    start_worker(backend, server, worker_factory, monkeypatch, BGMIGRATE_WORKER_CONCURRENCY="1")
    log = f"poison:{uuid.uuid4().hex}"
    poison = tasks.flaky.enqueue(log, 1000)  # 3 attempts, 0.05 s then 0.1 s apart
    for job in range(5):  # arq starts one job per poll (0.5 s) at concurrency 1: keep it short
        tasks.record.enqueue(log, f"job-{job}")
    with pytest.raises(TaskFailed) as failed:
        poison.result(timeout=30)
    assert failed.value.exc_type == "builtins.ConnectionError"
    assert "attempt 3 fails" in str(failed.value)
    assert poison.status() is TaskStatus.FAILED
    seen = events(log, 8)
    attempts = [event for event in seen if "attempt" in event]
    assert attempts == [{"attempt": 1}, {"attempt": 2}, {"attempt": 3}]
    # The other jobs ran while the poison task waited between its attempts.
    assert seen.index({"attempt": 3}) > [e.get("label") for e in seen].index("job-0")


def test_an_arq_job_running_longer_than_the_in_progress_timeout_runs_once(
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = redis_server_factory()
    start_worker("arq", server, worker_factory, monkeypatch, BGMIGRATE_WORKER_CONCURRENCY="4")
    run = f"long-{uuid.uuid4().hex[:8]}"
    tally = Tally(redis.Redis.from_url(server.url), run)
    # Without the renewed mark, the worker (with free slots) would take the job for abandoned
    # after 1 s and start it again while it still runs.
    tasks.atally.enqueue(run, 0, 3 * RECOVERY)
    tally.wait_done({0})
    assert tally.runs() == {0: 1}


def test_a_celery_task_redelivered_after_it_succeeded_does_not_run_again(
    redis_server_factory: RedisServerFactory,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = redis_server_factory()
    queue = f"redeliver-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv(tasks.REDIS_URL_ENV, server.url)
    bgmigrate.configure(
        backend="celery", broker_url=server.url, result_url=server.url, default_queue=queue
    )
    run = f"redeliver-{uuid.uuid4().hex[:8]}"
    tally = Tally(redis.Redis.from_url(server.url), run)
    handle = tasks.tally.enqueue(run, 0)
    message: bytes = tally.client.lindex(queue, 0)  # type: ignore[assignment]
    start_worker("celery", server, worker_factory, monkeypatch, BGMIGRATE_DEFAULT_QUEUE=queue)
    handle.result(timeout=30)
    # What kombu puts back when a worker died after the task succeeded but before its ack.
    again = json.loads(message)
    again["headers"]["redelivered"] = again["properties"]["delivery_info"]["redelivered"] = True
    tally.client.lpush(queue, json.dumps(again))
    tasks.tally.enqueue(run, 1, 0.5)  # a marker queued behind it
    tally.wait_done({1})
    assert tally.runs() == {0: 1, 1: 1}
