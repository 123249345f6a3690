"""``BGMIGRATE_WORKER_LIFESPAN`` on real ARQ and Celery workers: a task finds what the app's own
start-up set up in the process that runs it, the shutdown part runs when the worker stops, and a
start-up that fails stops the worker with exit code 1 and the setting named."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

import bgmigrate
from bgmigrate.adapters.worker_lifespan import WorkerLifespan, load_factory
from bgmigrate.errors import ConfigError, WorkerStartupError
from bgmigrate.registry import registry
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.workers import WorkerFactory, bgmigrate_command

TASKS = '''
import json, os
import redis
from bgmigrate import task

STATE: dict[str, object] = {}
"""What the application's start-up set up (by the lifespan or an on_event handler)."""


def note(entry: dict[str, object]) -> None:
    client = redis.Redis.from_url(os.environ["LS_REDIS"])
    client.rpush(os.environ["LS_KEY"], json.dumps(entry))
    client.close()


@task
async def report(label: str) -> None:
    note({"label": label, "pid": os.getpid(), "opened_by": STATE.get("opened_by")})
    await followup.aenqueue(label)  # bgmigrate.lifespan, nested in the app's, started a client


@task
def followup(label: str) -> None:
    note({"label": "followup of " + label, "pid": os.getpid()})
'''

LIFESPAN_APP = """
import os
from contextlib import asynccontextmanager
from fastapi import FastAPI
import bgmigrate
import lstasks


@asynccontextmanager
async def lifespan(app):
    if os.environ.get("LS_FAIL"):
        raise RuntimeError("database unreachable")
    lstasks.STATE["opened_by"] = os.getpid()
    async with bgmigrate.lifespan():
        yield
    lstasks.note({"label": "shutdown", "pid": os.getpid()})


app = FastAPI(lifespan=lifespan)
"""

EVENTS_APP = """
import os
from fastapi import FastAPI
import lstasks

app = FastAPI()


@app.on_event("startup")
async def open_things():
    lstasks.STATE["opened_by"] = os.getpid()
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project with the tasks and two apps (one with a lifespan, one with on_event)."""
    for name, source in [("lstasks", TASKS), ("lsapp", LIFESPAN_APP), ("lsevents", EVENTS_APP)]:
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in ("lstasks.report", "lstasks.followup"):
        registry.unregister(name)
    sys.modules.pop("lstasks", None)


def _env(backend: str, redis_url: str, project: Path, key: str, spec: str) -> dict[str, str]:
    return {
        "BGMIGRATE_BACKEND": backend,
        "BGMIGRATE_BROKER_URL": redis_url,
        "BGMIGRATE_TASK_MODULES": "lstasks",
        "BGMIGRATE_DEFAULT_QUEUE": f"{key}-queue",
        "BGMIGRATE_WORKER_LIFESPAN": spec,
        "PYTHONPATH": str(project),
        "LS_REDIS": redis_url,
        "LS_KEY": key,
    }


def _tasks() -> Any:
    """The project's task module (importable once the ``project`` fixture put it on the path)."""
    import lstasks  # type: ignore[import-not-found]

    return lstasks


def _entries(redis_url: str, key: str, at_least: int = 0) -> list[dict[str, Any]] | None:
    """What the tasks and the app noted under ``key`` (``None`` while fewer than ``at_least``)."""
    with redis.Redis.from_url(redis_url) as client:
        entries = [json.loads(raw) for raw in client.lrange(key, 0, -1)]
    return entries if len(entries) >= at_least else None


@pytest.mark.parametrize(
    ("backend", "flags", "spec"),
    [
        ("arq", [], "lsapp:app"),
        ("arq", [], "lsevents:app"),
        ("celery", ["--pool", "prefork", "--concurrency", "1"], "lsapp:app"),
        ("celery", ["--pool", "solo"], "lsevents:app"),
        ("celery", ["--pool", "threads", "--concurrency", "1"], "lsapp:app"),
    ],
)
def test_a_task_finds_what_the_apps_startup_set_up_in_its_own_process(
    backend: str,
    flags: list[str],
    spec: str,
    project: Path,
    redis_url: str,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = f"ls-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("LS_REDIS", redis_url)
    monkeypatch.setenv("LS_KEY", key)
    env = _env(backend, redis_url, project, key, spec)
    worker = worker_factory([*bgmigrate_command(backend), *flags], env=env)
    bgmigrate.configure(backend=backend, broker_url=redis_url, default_queue=f"{key}-queue")
    _tasks().report.enqueue("first")
    entries = wait_until(
        lambda: _entries(redis_url, key, at_least=2),
        timeout=60,
        what="the task and its follow-up",
    )
    first = next(e for e in entries if e["label"] == "first")
    assert first["opened_by"] == first["pid"]  # the app started in the process of the task
    assert any(e["label"] == "followup of first" for e in entries)
    if spec == "lsapp:app" and "threads" not in flags:  # threads: loops are never closed
        worker.stop()
        shutdown = [e for e in _entries(redis_url, key) or [] if e["label"] == "shutdown"]
        assert [e["pid"] for e in shutdown] == [first["pid"]]


@pytest.mark.parametrize(
    ("backend", "flags"),
    [
        ("arq", []),
        ("celery", ["--pool", "prefork", "--concurrency", "1"]),
        ("celery", ["--pool", "solo"]),
    ],
)
def test_a_failing_startup_stops_the_worker_with_exit_code_1_and_says_why(
    backend: str, flags: list[str], project: Path, redis_url: str
) -> None:
    key = f"ls-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, **_env(backend, redis_url, project, key, "lsapp:app"), "LS_FAIL": "1"}
    argv = [*bgmigrate_command(backend), *flags]
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=90, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 1, output
    assert "BGMIGRATE_WORKER_LIFESPAN=lsapp:app" in output
    assert "database unreachable" in output


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchmodule_ls:app", "cannot import 'nosuchmodule_ls'"),
        ("lsapp:nothing", "has no attribute 'nothing'"),
        ("lstasks:STATE", "neither a FastAPI app nor a factory"),
    ],
)
def test_a_bad_name_is_a_config_error_that_says_what_is_wrong(
    spec: str, message: str, project: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        load_factory(spec)


def test_the_lifespan_is_entered_and_exited_in_one_task_of_its_own() -> None:
    events: list[tuple[str, object]] = []

    @contextlib.asynccontextmanager
    async def resources() -> AsyncIterator[None]:
        events.append(("enter", asyncio.current_task()))
        yield
        events.append(("exit", asyncio.current_task()))

    async def run() -> None:
        lifespan = WorkerLifespan("tests:resources", resources)
        await lifespan.start()
        events.append(("work", None))
        await lifespan.stop()

    asyncio.run(run())
    assert [label for label, _ in events] == ["enter", "work", "exit"]
    assert events[0][1] is events[2][1]  # a task group in the lifespan exits where it entered


@pytest.mark.parametrize("failure", ["raises", "never yields"])
def test_a_startup_that_does_not_reach_its_yield_is_a_worker_startup_error(failure: str) -> None:
    @contextlib.asynccontextmanager
    async def resources() -> AsyncIterator[None]:
        if failure == "raises":
            raise OSError("database unreachable")
        raise asyncio.CancelledError
        yield  # pragma: no cover

    with pytest.raises(WorkerStartupError, match=r"BGMIGRATE_WORKER_LIFESPAN=tests:resources"):
        asyncio.run(WorkerLifespan("tests:resources", resources).start())


def test_the_threads_pool_stops_when_the_startup_fails_at_the_first_async_task(
    project: Path, redis_url: str, worker_factory: WorkerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = f"ls-{uuid.uuid4().hex[:8]}"
    env = {**_env("celery", redis_url, project, key, "lsapp:app"), "LS_FAIL": "1"}
    argv = [*bgmigrate_command("celery"), "--pool", "threads", "--concurrency", "1"]
    worker = worker_factory(argv, env=env)  # threads: each thread enters it at its first task
    monkeypatch.setenv("LS_REDIS", redis_url)
    monkeypatch.setenv("LS_KEY", key)
    bgmigrate.configure(backend="celery", broker_url=redis_url, default_queue=f"{key}-queue")
    _tasks().report.enqueue("first")
    assert worker.process is not None
    code = wait_until(worker.process.poll, timeout=60, what="the worker to stop")
    assert code == 1, worker.log()
    assert "BGMIGRATE_WORKER_LIFESPAN=lsapp:app" in worker.log()
    assert _entries(redis_url, key) == []
