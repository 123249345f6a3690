"""Failed jobs on every backend, with real workers: kept, listed, retried, discarded, bounded.

Celery and ARQ run a real worker subprocess on a queue of their own; the in-process backend
runs in this process with ``BGMIGRATE_FAILED_JOBS_URL`` set. The store keeps
:data:`MAX_KEPT` records, so that trimming is seen after a few failures.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from typer.testing import CliRunner

import bgmigrate
from bgmigrate.backend import TaskHandle, TaskStatus
from bgmigrate.cli import app
from bgmigrate.errors import UnknownJobError
from bgmigrate.failed_jobs import INDEX_KEY, RECORDS_KEY, FailedJob, FailedJobs, describe_args
from bgmigrate.runtime import Runtime
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import TASK_MODULE, labels, start_backend
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.workers import WorkerFactory

MAX_KEPT = 3
BACKENDS = ["inprocess", "celery", "arq"]
runner = CliRunner()


@dataclass
class Setup:
    """A backend ready to fail jobs: its settings, and the CLI's environment."""

    name: str
    settings: dict[str, Any]
    env: dict[str, str]


@pytest.fixture(scope="module")
def _workers() -> Iterator[WorkerFactory]:
    factory = WorkerFactory()
    yield factory
    factory.close()


@pytest.fixture(scope="module", params=BACKENDS)
def setup(request: pytest.FixtureRequest, redis_url: str, _workers: WorkerFactory) -> Setup:
    """The backend under test, its worker (if any) started once per module."""
    name: str = request.param
    env = {"BGMIGRATE_FAILED_JOBS_URL": redis_url, "BGMIGRATE_TASK_MODULES": TASK_MODULE}
    if name == "inprocess":
        settings = {"backend": name, "failed_jobs_url": redis_url, "failed_jobs_max": MAX_KEPT}
        return Setup(name, settings, env)
    started = start_backend(
        name, redis_url, _workers, env={"BGMIGRATE_FAILED_JOBS_MAX": str(MAX_KEPT)}
    )
    return Setup(name, {**started.settings, "failed_jobs_url": redis_url}, env)


@pytest.fixture
def runtime(setup: Setup, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    """The process-wide runtime on the backend under test, the failed-job store emptied."""
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    with redis.Redis.from_url(redis_url) as client:
        client.delete(INDEX_KEY, RECORDS_KEY)
    current = bgmigrate.configure(**setup.settings)
    yield current
    anyio.run(bgmigrate.get_runtime().close)


@pytest.fixture
def store(runtime: Runtime) -> FailedJobs:
    """The failed-job store the backend under test writes to."""
    return bgmigrate.failed_jobs(runtime.settings)


@pytest.fixture
def flag(tmp_path: Path) -> Path:
    """A file that makes :func:`~bgmigrate.testing.conformance_tasks.fails_while` fail."""
    path = tmp_path / "failing"
    path.touch()
    return path


def _log() -> str:
    return f"failed-jobs:{uuid.uuid4().hex}"


def _fail(
    store: FailedJobs, flag: Path, log: str, label: str = "done"
) -> tuple[TaskHandle, FailedJob]:
    """Enqueue a job that fails for good; return its handle and its record once it is kept."""
    handle = tasks.fails_while.enqueue(str(flag), log, label)
    record = wait_until(lambda: _kept(store, handle.id), timeout=30, what="the failed job")
    return handle, record


def _kept(store: FailedJobs, job_id: str) -> FailedJob | None:
    try:
        return store.get(job_id)
    except UnknownJobError:
        return None


def test_a_job_whose_attempts_are_exhausted_is_kept_with_all_its_details(
    setup: Setup, store: FailedJobs, flag: Path
) -> None:
    log = _log()
    handle, record = _fail(store, flag, log)
    # The record is kept as the last attempt fails, just before the backend records the failure.
    wait_until(lambda: handle.status() is TaskStatus.FAILED, timeout=30, what="FAILED")
    assert (record.task, record.backend, record.attempts) == (
        tasks.fails_while.name,
        setup.name,
        2,
    )
    # As logs show them (each value cut to 80 characters: tmp paths can be longer).
    assert record.args == describe_args((str(flag), log, "done"), {})
    assert record.args.startswith(repr(str(flag))[:20])
    assert (record.error_type, record.error) == ("builtins.RuntimeError", f"flag {flag} is set")
    assert "raise RuntimeError" in record.traceback
    assert record.payload == {"args": [str(flag), log, "done"], "kwargs": {}}
    if setup.name == "celery":  # Celery's messages do not say when they were sent
        assert record.enqueued_at is None
    else:
        assert record.enqueued_at is not None
        assert record.enqueued_at <= record.failed_at


def test_jobs_failed_json_lists_it(setup: Setup, store: FailedJobs, flag: Path) -> None:
    handle, _ = _fail(store, flag, _log())
    result = runner.invoke(
        app, ["jobs", "failed", "--json", "--task", tasks.fails_while.name], env=setup.env
    )
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(job["id"], job["backend"]) for job in listed] == [(handle.id, setup.name)]
    assert listed[0]["error_type"] == "builtins.RuntimeError"


def test_a_retry_that_succeeds_removes_the_record(store: FailedJobs, flag: Path) -> None:
    log = _log()
    failed, _ = _fail(store, flag, log, "retried")
    flag.unlink()
    handle = store.retry(failed.id)
    assert handle.id != failed.id
    assert handle.result(timeout=30) is None
    assert handle.status() is TaskStatus.SUCCESSFUL
    assert labels(log, 1) == ["retried"]
    assert _kept(store, failed.id) is None


def test_jobs_retry_all_reenqueues_every_failed_job_of_a_task(
    setup: Setup, store: FailedJobs, flag: Path
) -> None:
    log = _log()
    failed = [_fail(store, flag, log, label)[0].id for label in ("one", "two")]
    flag.unlink()
    result = runner.invoke(
        app, ["jobs", "retry", "--all", "--task", tasks.fails_while.name], env=setup.env
    )
    assert result.exit_code == 0, result.output
    assert [line.split()[1] for line in result.output.splitlines()] == failed
    assert sorted(labels(log, 2)) == ["one", "two"]
    assert store.list() == []


def test_a_discard_is_final_the_job_is_gone_and_never_runs(
    setup: Setup, store: FailedJobs, flag: Path
) -> None:
    log = _log()
    handle, _ = _fail(store, flag, log, "discarded")
    flag.unlink()
    result = runner.invoke(app, ["jobs", "discard", handle.id], env=setup.env)
    assert result.exit_code == 0, result.output
    assert _kept(store, handle.id) is None
    assert store.retry_all() == []
    again = runner.invoke(app, ["jobs", "discard", handle.id], env=setup.env)
    assert again.exit_code == 1
    # A job sent after the discard runs; the discarded one never did (one job at a time).
    tasks.record.enqueue(log, "after")
    assert labels(log, 1) == ["after"]


def test_the_oldest_records_are_trimmed_past_the_max(store: FailedJobs, flag: Path) -> None:
    log = _log()
    ids = [_fail(store, flag, log, str(number))[0].id for number in range(MAX_KEPT + 1)]
    assert [job.id for job in store.list()] == ids[1:]
