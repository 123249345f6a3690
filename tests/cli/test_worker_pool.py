"""``bgmigrate worker --pool/--concurrency/--max-tasks-per-child`` on real workers: each option
is seen to take effect in the processes that ran the tasks and in how many ran at once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from typer.testing import CliRunner

import bgmigrate
from bgmigrate.cli import app
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import TASK_MODULE, worker_environment
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess, bgmigrate_command

runner = CliRunner()
HOLD = 1.5
"""Seconds each task holds its slot: long enough for every free slot to pick one up."""


def _start(
    backend: str,
    redis_url: str,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
    flags: Sequence[str] = (),
    env: dict[str, str] | None = None,
) -> WorkerProcess:
    queue = f"pool-{uuid.uuid4().hex[:8]}"
    worker_env = {**worker_environment(backend, redis_url, redis_url, queue), **(env or {})}
    worker = worker_factory([*bgmigrate_command(backend, queues=[queue]), *flags], env=worker_env)
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    bgmigrate.configure(backend=backend, broker_url=redis_url, default_queue=queue)
    return worker


def _hold_all(jobs: int) -> list[dict[str, Any]]:
    """Enqueue ``jobs`` holding tasks and return their events once all have finished."""
    log = f"pool-log-{uuid.uuid4().hex}"
    for _ in range(jobs):
        tasks.hold.enqueue(log, HOLD)

    def finished() -> list[dict[str, Any]] | None:
        events: list[dict[str, Any]] = tasks.read(log)  # type: ignore[assignment]
        done = sum(event["label"] == "finished" for event in events)
        return events if done == jobs else None

    return wait_until(finished, timeout=60, what=f"{jobs} tasks to finish")


def _most_at_once(events: list[dict[str, Any]]) -> int:
    running = most = 0
    for event in events:
        running += 1 if event["label"] == "started" else -1
        most = max(most, running)
    return most


def _pids(events: list[dict[str, Any]]) -> set[int]:
    return {event["pid"] for event in events}


def test_celery_max_tasks_per_child_replaces_the_process_after_each_task(
    redis_url: str, worker_factory: WorkerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    flags = ["--pool", "prefork", "--concurrency", "1", "--max-tasks-per-child", "1"]
    worker = _start("celery", redis_url, worker_factory, monkeypatch, flags)
    events = _hold_all(3)
    assert _most_at_once(events) == 1
    assert worker.process is not None
    assert worker.process.pid not in _pids(events)  # prefork: children run the tasks
    assert len(_pids(events)) == 3  # a fresh child for every task


@pytest.mark.parametrize(
    ("backend", "flags", "env", "most"),
    [
        # The settings, not the flags: BGMIGRATE_WORKER_POOL and _CONCURRENCY.
        (
            "celery",
            [],
            {"BGMIGRATE_WORKER_POOL": "threads", "BGMIGRATE_WORKER_CONCURRENCY": "3"},
            3,
        ),
        ("celery", ["--pool", "solo"], {}, 1),
        ("arq", ["--concurrency", "2"], {}, 2),
        ("arq", ["--pool", "solo"], {}, 1),
    ],
)
def test_one_process_runs_as_many_tasks_at_once_as_the_pool_allows(
    backend: str,
    flags: list[str],
    env: dict[str, str],
    most: int,
    redis_url: str,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = _start(backend, redis_url, worker_factory, monkeypatch, flags, env)
    events = _hold_all(most + 1)
    assert _most_at_once(events) == most
    assert worker.process is not None
    assert _pids(events) == {worker.process.pid}


def test_a_celery_worker_warns_about_timeouts_it_cannot_keep(
    redis_url: str, worker_factory: WorkerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"BGMIGRATE_VISIBILITY_TIMEOUT": "12"}
    worker = _start("celery", redis_url, worker_factory, monkeypatch, ["--pool", "solo"], env)
    log = worker.log()
    # patient: timeout 10 s + 5 s of hard-limit grace, held up to 15 s; apatient 1 s more.
    assert "longer than the Redis visibility timeout (12 s)" in log
    assert f"{TASK_MODULE}.patient (up to 15 s)" in log
    assert "BGMIGRATE_VISIBILITY_TIMEOUT=16" in log
    assert "the solo pool does not enforce Celery time limits" in log
    assert f"{TASK_MODULE}.slow_sync" in log


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--pool", "prefork"], "it has no prefork pool"),
        (["--max-tasks-per-child", "5"], "ARQ cannot replace its process"),
    ],
)
def test_arq_refuses_what_it_cannot_honour_with_the_alternative(
    flags: list[str], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    result = runner.invoke(app, ["worker", "--backend", "arq", *flags])
    assert result.exit_code == 2
    assert message in result.output


def test_arq_refuses_a_prefork_pool_set_in_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    monkeypatch.setenv("BGMIGRATE_WORKER_POOL", "prefork")
    result = runner.invoke(app, ["worker", "--backend", "arq"])
    assert result.exit_code == 2
    assert "it has no prefork pool" in result.output


def test_a_solo_pool_with_more_concurrency_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    argv = ["worker", "--backend", "celery", "--pool", "solo", "--concurrency", "4"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2
    assert "the solo pool runs one task at a time, not 4" in result.output
