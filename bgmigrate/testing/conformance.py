"""The conformance suite: behaviour every backend shows, run unchanged against each of them.

Use it for a backend of your own: subclass :class:`BackendConformance` (or
:class:`WorkerConformance` when tasks run in a worker process) in a test module and define a
``backend_under_test`` fixture returning a :class:`BackendUnderTest`::

    pytest_plugins = ["bgmigrate.testing.pytest_plugin"]

    @pytest.fixture(scope="module")
    def backend_under_test(redis_url, session_worker_factory):
        return start_backend("arq", redis_url, session_worker_factory)

    class TestArq(WorkerConformance):
        pass

Tasks write what they do to Redis (see :mod:`bgmigrate.testing.conformance_tasks`), so the
suite observes side effects in any process, in order.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import pytest
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.backend import Job, TaskHandle, TaskStatus
from bgmigrate.errors import TaskFailed, UnknownJobError
from bgmigrate.retry import RetryPolicy
from bgmigrate.runtime import Runtime
from bgmigrate.task import Task
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance_app import make_app
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import free_port
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess, arq_command, celery_command

TASK_MODULE = "bgmigrate.testing.conformance_tasks"
TRAP_TASK = "bgmigrate.testing.conformance_trap.run"
"""A task name no worker registered, whose module must never be imported."""
WAIT = 30.0
"""Seconds a test waits for a worker to do something before it fails."""


@dataclass(frozen=True)
class BackendUnderTest:
    """A backend configuration, and the worker (if any) that consumes its queue."""

    name: str
    """Label used in test ids and messages."""
    redis_url: str
    """Redis where conformance tasks write what they do."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """``bgmigrate.configure`` overrides selecting and configuring the backend."""
    worker: WorkerProcess | None = None
    """The worker process running the tasks (``None``: they run in this process)."""


def worker_environment(backend: str, redis_url: str, broker_url: str, queue: str) -> dict[str, str]:
    """``BGMIGRATE_*`` variables for a worker running the conformance tasks."""
    env = {
        "BGMIGRATE_BACKEND": backend,
        "BGMIGRATE_BROKER_URL": broker_url,
        "BGMIGRATE_TASK_MODULES": TASK_MODULE,
        "BGMIGRATE_DEFAULT_QUEUE": queue,
        tasks.REDIS_URL_ENV: redis_url,
    }
    if backend == "celery":
        env["BGMIGRATE_RESULT_URL"] = redis_url
    return env


def start_backend(
    backend: str,
    redis_url: str,
    workers: WorkerFactory,
    *,
    broker_url: str | None = None,
    argv: list[str] | None = None,
    name: str | None = None,
    queue: str | None = None,
    env: Mapping[str, str] | None = None,
) -> BackendUnderTest:
    """Start a worker for ``backend`` (``celery`` or ``arq``) on a queue of its own.

    ``argv`` defaults to the native worker command (``celery -A ...``, ``arq ...``); the
    worker is given concurrency 1, so that tasks run in the order they were enqueued.
    ``env`` adds (or overrides) variables, e.g. ``BGMIGRATE_*`` settings for the worker and
    the returned ``settings``.
    """
    queue = queue or f"conformance-{uuid.uuid4().hex[:8]}"
    env = {**worker_environment(backend, redis_url, broker_url or redis_url, queue), **(env or {})}
    if argv is None:
        argv = celery_command(concurrency=1) if backend == "celery" else arq_command()
        env.setdefault("BGMIGRATE_WORKER_CONCURRENCY", "1")
    worker = workers(argv, env=env)
    settings: dict[str, Any] = {
        key.removeprefix("BGMIGRATE_").lower(): value
        for key, value in env.items()
        if key.startswith("BGMIGRATE_") and key != tasks.REDIS_URL_ENV
    }
    settings["task_modules"] = [TASK_MODULE]
    return BackendUnderTest(name or backend, redis_url, settings, worker)


def events(log: str, count: int, timeout: float = WAIT) -> list[Any]:
    """Wait until ``log`` holds ``count`` events and return them."""

    def probe() -> list[Any] | None:
        found = tasks.read(log)
        return found if len(found) >= count else None

    return wait_until(probe, timeout=timeout, what=f"{count} event(s) in {log}")


def labels(log: str, count: int) -> list[str]:
    """The labels of the first ``count`` events in ``log`` (waiting for them)."""
    return [event["label"] for event in events(log, count)]


def failure_of(handle: TaskHandle) -> tuple[str, str]:
    """The failed task's exception type (import path) and message, as its handle raises them.

    Queue backends raise :class:`TaskFailed` naming the type; the in-process backend raises
    the exception itself.
    """
    with pytest.raises(Exception) as raised:  # noqa: PT011 - any type: it is returned
        handle.result(timeout=WAIT)
    error = raised.value
    if isinstance(error, TaskFailed):
        return error.exc_type, str(error)
    kind = type(error)
    return f"{kind.__module__}.{kind.__qualname__}", str(error)


def _never() -> None:
    """Stands in, in this process only, for a task no worker registered."""


def dead_url(url: str, password: str) -> str:
    """``url`` moved to a port where nothing listens, with ``password`` in it."""
    parts = urlsplit(url)
    user = parts.username or ""
    netloc = f"{user}:{password}@127.0.0.1:{free_port()}"
    return urlunsplit(parts._replace(netloc=netloc))


class BackendConformance:
    """What every backend does. Subclass in a test module with a ``backend_under_test``."""

    @pytest.fixture
    def runtime(
        self, backend_under_test: BackendUnderTest, monkeypatch: pytest.MonkeyPatch
    ) -> Iterator[Runtime]:
        """The process-wide runtime, configured for the backend under test."""
        monkeypatch.setenv(tasks.REDIS_URL_ENV, backend_under_test.redis_url)
        runtime = bgmigrate.configure(**backend_under_test.settings)
        yield runtime
        anyio.run(runtime.close)

    @pytest.fixture
    def client(self, runtime: Runtime) -> Iterator[TestClient]:
        """A client of the conformance app, its lifespan (and so the backend) started."""
        with TestClient(make_app()) as client:
            yield client

    @pytest.fixture
    def log(self) -> str:
        """A fresh Redis list for this test's events."""
        return f"conformance:{uuid.uuid4().hex}"

    def test_a_request_runs_its_tasks_in_order_after_the_handler(
        self, client: TestClient, log: str
    ) -> None:
        assert client.post(f"/orders/{log}").status_code == 200
        assert labels(log, 4) == ["handler", "first", "second", "third"]

    def test_nothing_is_dispatched_when_the_handler_raises(
        self, client: TestClient, log: str
    ) -> None:
        assert client.post(f"/failing/{log}").status_code == 409
        # The next request's tasks are queued behind anything the failed one dispatched.
        assert client.post(f"/orders/{log}").status_code == 200
        assert labels(log, 4) == ["handler", "first", "second", "third"]

    def test_sync_and_async_tasks_run_when_enqueued(self, runtime: Runtime, log: str) -> None:
        tasks.record.enqueue(log, "sync")
        tasks.arecord.enqueue(log, "async")
        assert sorted(labels(log, 2)) == ["async", "sync"]

    @pytest.mark.parametrize("made_by", ["constructor", "model_construct"])
    def test_typed_arguments_arrive_as_the_same_types(
        self, runtime: Runtime, log: str, made_by: str
    ) -> None:
        when, ident = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), uuid.uuid4()
        values: dict[str, Any] = {"name": "lamp", "price": Decimal("9.99"), "tags": ("a", "b")}
        # model_construct leaves model_fields_set empty, as rows loaded by SQLModel have it.
        item = (
            tasks.Item(**values)
            if made_by == "constructor"
            else tasks.Item.model_construct(_fields_set=set(), **values)
        )
        handle = tasks.typed.enqueue(
            log, when, ident, Decimal("0.01"), item, tasks.Color.BLUE, tasks.Point(1, 2)
        )
        result = handle.result(timeout=WAIT)
        assert events(log, 1) == [
            {
                "when": "datetime",
                "ident": "UUID",
                "amount": "Decimal",
                "item": "Item",
                "color": "Color",
                "point": "Point",
            }
        ]
        assert result == tasks.Item(
            name="lamp@blue", price=Decimal("10.00"), tags=(str(ident), when.isoformat())
        )

    def test_a_failing_task_is_retried_until_it_succeeds(self, runtime: Runtime, log: str) -> None:
        handle = tasks.flaky.enqueue(log, 2)
        assert handle.result(timeout=WAIT) == 3
        assert events(log, 3) == [{"attempt": 1}, {"attempt": 2}, {"attempt": 3}]

    def test_retries_stop_after_max_attempts(self, runtime: Runtime, log: str) -> None:
        handle = tasks.flaky.enqueue(log, 10)
        exc_type, message = failure_of(handle)
        assert exc_type == "builtins.ConnectionError"
        assert "attempt 3 fails" in message
        assert handle.status() is TaskStatus.FAILED
        assert len(tasks.read(log)) == 3

    def test_a_failed_task_reports_its_error(self, runtime: Runtime) -> None:
        handle = tasks.boom.enqueue("no stock")
        assert failure_of(handle) == ("builtins.ValueError", failure_of(handle)[1])
        assert "no stock" in failure_of(handle)[1]
        assert handle.status() is TaskStatus.FAILED

    @pytest.mark.parametrize("slow", [tasks.slow_sync, tasks.slow_async], ids=["sync", "async"])
    def test_an_attempt_longer_than_its_timeout_fails(
        self, runtime: Runtime, log: str, slow: Task[Any, Any]
    ) -> None:
        handle = slow.enqueue(log, 3.0)
        exc_type, _ = failure_of(handle)
        assert exc_type == "builtins.TimeoutError"
        assert handle.status() is TaskStatus.FAILED
        assert tasks.read(log) == []

    def test_a_delayed_task_waits_its_delay(self, runtime: Runtime, log: str) -> None:
        enqueued_at = time.time()
        handle = tasks.record.using(delay=1.0).enqueue(log, "late")
        assert handle.status() is TaskStatus.READY
        (event,) = events(log, 1)
        assert event["at"] - enqueued_at >= 0.95  # arq keeps times in whole milliseconds

    def test_a_task_run_after_a_time_waits_until_then(self, runtime: Runtime, log: str) -> None:
        due = datetime.now(UTC) + timedelta(seconds=1)
        tasks.record.using(run_after=due).enqueue(log, "due")
        (event,) = events(log, 1)
        assert event["at"] >= due.timestamp() - 0.005  # arq keeps times in whole milliseconds

    def test_a_calls_queue_wins_over_the_registered_queue(self, runtime: Runtime, log: str) -> None:
        # parked is registered on a queue no worker consumes; the call names the worker's queue.
        moved = tasks.parked.using(queue=runtime.settings.default_queue)
        moved.enqueue(log, "moved")
        assert labels(log, 1) == ["moved"]

    @pytest.mark.parametrize("patient", [tasks.patient, tasks.apatient], ids=["sync", "async"])
    def test_a_calls_timeout_wins_over_the_registered_timeout(
        self, runtime: Runtime, log: str, patient: Task[Any, Any]
    ) -> None:
        handle = patient.using(timeout=0.5).enqueue(log, 3.0)  # registered: 10 s, it would finish
        exc_type, _ = failure_of(handle)
        assert exc_type == "builtins.TimeoutError"
        assert tasks.read(log) == []

    def test_a_calls_retry_policy_wins_over_the_registered_one(
        self, runtime: Runtime, log: str
    ) -> None:
        more = RetryPolicy(max_attempts=5, backoff=0.05)  # registered: 3 attempts
        assert tasks.flaky.using(retry=more).enqueue(log, 4).result(timeout=WAIT) == 5
        assert len(tasks.read(log)) == 5
        other = f"{log}:other"
        narrower = RetryPolicy(max_attempts=5, backoff=0.05, retry_on=(ValueError,))
        exc_type, _ = failure_of(tasks.flaky.using(retry=narrower).enqueue(other, 4))
        assert exc_type == "builtins.ConnectionError"
        assert len(tasks.read(other)) == 1  # a ConnectionError is not retried by this call

    def test_two_enqueues_with_one_key_run_once(self, runtime: Runtime, log: str) -> None:
        keyed = tasks.count.using(key=f"{log}:once")
        first, second = keyed.enqueue(log), keyed.enqueue(log)
        assert first.id == second.id
        assert first.result(timeout=WAIT) == 1
        # Anything enqueued before this marker has run by the time the marker has.
        tasks.record.enqueue(log, "marker")
        events(log, 1)
        assert tasks.count.using(key=f"{log}:once").enqueue(log).result(timeout=WAIT) == 1

    def test_status_and_result_of_a_task(self, runtime: Runtime) -> None:
        handle = tasks.add.enqueue(2, 3)
        assert handle.status() in (TaskStatus.READY, TaskStatus.RUNNING, TaskStatus.SUCCESSFUL)
        assert handle.result(timeout=WAIT) == 5
        assert handle.status() is TaskStatus.SUCCESSFUL

    def test_an_id_the_backend_never_saw_is_unknown(self, runtime: Runtime) -> None:
        handle = tasks.add.enqueue(1, 1)
        never = TaskHandle(uuid.uuid4().hex, handle.backend)
        assert never.status() is TaskStatus.UNKNOWN
        with pytest.raises(UnknownJobError, match=never.id) as raised:
            never.result(timeout=WAIT)
        assert isinstance(raised.value, LookupError)

    def test_async_tasks_share_one_event_loop_per_process(self, runtime: Runtime) -> None:
        first = tasks.loop_identity.enqueue().result(timeout=WAIT)
        assert tasks.loop_identity.enqueue().result(timeout=WAIT) == first

    def test_async_enqueue_and_result(self, runtime: Runtime) -> None:
        async def scenario() -> Any:
            handle = await tasks.add.aenqueue(20, 22)
            return await handle.aresult(timeout=WAIT), await handle.astatus()

        assert anyio.run(scenario) == (42, TaskStatus.SUCCESSFUL)


class WorkerConformance(BackendConformance):
    """What every backend whose tasks run in worker processes also does."""

    @pytest.fixture
    def worker(self, backend_under_test: BackendUnderTest) -> WorkerProcess:
        """The worker consuming the backend's queue."""
        assert backend_under_test.worker is not None, "a worker backend needs its worker"
        return backend_under_test.worker

    def test_an_unknown_task_is_rejected_and_its_module_never_imported(
        self, runtime: Runtime, worker: WorkerProcess
    ) -> None:
        unknown = Task(func=_never, name=TRAP_TASK)
        backend = runtime.backend(runtime.settings.backend)
        job = Job(task=unknown, args=(), kwargs={}, payload={"args": [], "kwargs": {}})
        (handle,) = backend.enqueue([job])
        wait_until(lambda: handle.status() is TaskStatus.FAILED, timeout=WAIT, what="the rejection")
        worker.wait_for_log(re.escape(TRAP_TASK))
        assert tasks.read(tasks.TRAP_ALARM_LOG) == []
        assert tasks.add.enqueue(1, 2).result(timeout=WAIT) == 3  # the worker carries on

    def test_a_calls_priority_orders_the_waiting_tasks(
        self, runtime: Runtime, worker: WorkerProcess, log: str
    ) -> None:
        backend = runtime.backend(runtime.settings.backend)
        if not backend.capabilities.priority:
            pytest.skip(f"{backend.alias} does not support priority")
        tasks.hold.enqueue(log, 1.5)  # the single worker slot is busy while the others queue
        events(log, 1)
        tasks.record.using(priority=1).enqueue(log, "low")
        tasks.record.using(priority=1).enqueue(log, "low")
        tasks.record.using(priority=9).enqueue(log, "high")
        assert labels(log, 5)[2:] == ["high", "low", "low"]

    def test_an_unreachable_broker_is_a_503_and_loses_nothing_silently(
        self,
        backend_under_test: BackendUnderTest,
        runtime: Runtime,
        log: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        settings = dict(backend_under_test.settings)
        for name in ("broker_url", "result_url"):
            if settings.get(name):
                settings[name] = dead_url(settings[name], "s3cret")
        bgmigrate.configure(**settings)
        with TestClient(make_app()) as client:
            response = client.post(f"/orders/{log}")
        assert response.status_code == 503
        assert "could not be enqueued" in response.json()["detail"]
        assert "EnqueueError" in caplog.text or "not enqueued" in caplog.text
        assert "s3cret" not in caplog.text + response.text
        assert labels(log, 1) == ["handler"]
