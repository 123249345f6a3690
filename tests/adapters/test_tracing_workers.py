"""OpenTelemetry across real Celery and ARQ worker subprocesses: the request's trace reaches
every attempt, linked (the default) or as a child; no double spans beside OpenTelemetry's
Celery instrumentation.

Each worker imports :mod:`bgmigrate.testing.tracing_setup`, which exports its spans and log
records to files that the test reads; the test process records its own spans in memory.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry import trace

import bgmigrate
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import TASK_MODULE, WAIT, BackendUnderTest, start_backend
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.span_files import SpanRecord, read_logs, read_spans
from bgmigrate.testing.tracing_setup import CELERY_INSTRUMENTOR_ENV, LOGS_ENV, SPANS_ENV
from bgmigrate.testing.workers import WorkerFactory
from tests.otel_spans import Spans, recording

SETUP_MODULE = "bgmigrate.testing.tracing_setup"


class Worker:
    """A worker under test and the files its spans and log records go to."""

    def __init__(self, backend: BackendUnderTest, files: Path) -> None:
        self.backend = backend
        self.spans_path = files / "spans.jsonl"
        self.logs_path = files / "logs.jsonl"

    def spans(self, job_id: str, count: int) -> list[SpanRecord]:
        """Wait until the worker has ended ``count`` spans of job ``job_id``; return them."""

        def probe() -> list[SpanRecord] | None:
            found = [
                span
                for span in read_spans(self.spans_path)
                if job_id in (span.attributes.get("messaging.message.id"), _celery_id(span))
            ]
            return found if len(found) >= count else None

        return wait_until(probe, timeout=WAIT, what=f"{count} span(s) of job {job_id}")


def _celery_id(span: SpanRecord) -> object:
    return span.attributes.get("celery.task_id") or span.attributes.get("messaging.message_id")


@pytest.fixture(scope="module")
def _workers() -> Iterator[WorkerFactory]:
    factory = WorkerFactory()
    yield factory
    factory.close()


def _start(
    backend: str,
    redis_url: str,
    workers: WorkerFactory,
    files: Path,
    **env: str,
) -> Worker:
    files.mkdir(parents=True, exist_ok=True)
    worker = Worker(BackendUnderTest(backend, redis_url), files)
    env = {
        "BGMIGRATE_TASK_MODULES": f"{TASK_MODULE},{SETUP_MODULE}",
        SPANS_ENV: str(worker.spans_path),
        LOGS_ENV: str(worker.logs_path),
        **env,
    }
    worker.backend = start_backend(backend, redis_url, workers, env=env)
    return worker


@pytest.fixture(scope="module", params=["celery", "arq"])
def linked(
    request: pytest.FixtureRequest,
    redis_url: str,
    _workers: WorkerFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Worker:
    """A worker with the default run spans, linked to their enqueue spans."""
    return _start(request.param, redis_url, _workers, tmp_path_factory.mktemp("linked"))


@pytest.fixture(scope="module", params=["celery", "arq"])
def child(
    request: pytest.FixtureRequest,
    redis_url: str,
    _workers: WorkerFactory,
    tmp_path_factory: pytest.TempPathFactory,
) -> Worker:
    """A worker with ``BGMIGRATE_TRACE_PARENT=child``."""
    files = tmp_path_factory.mktemp("child")
    return _start(request.param, redis_url, _workers, files, BGMIGRATE_TRACE_PARENT="child")


@pytest.fixture
def spans() -> Iterator[Spans]:
    with recording() as recorded:
        yield recorded


def _configure(worker: Worker, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(tasks.REDIS_URL_ENV, worker.backend.redis_url)
    bgmigrate.configure(**worker.backend.settings)


@pytest.fixture
def log() -> str:
    return f"bgmigrate:test:tracing:{uuid.uuid4().hex}"


def _enqueue_in_request(func: bgmigrate.Task[..., Any], *args: Any) -> bgmigrate.TaskHandle:
    tracer = trace.get_tracer("tests")
    with tracer.start_as_current_span("request", kind=trace.SpanKind.SERVER):
        handle = func.enqueue(*args)
    return handle


def _one(found: list[SpanRecord]) -> SpanRecord:
    assert len(found) == 1, found
    return found[0]


def test_the_run_span_is_linked_to_the_enqueue_span(
    linked: Worker, spans: Spans, log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(linked, monkeypatch)
    handle = _enqueue_in_request(tasks.record, log, "a")
    ran = _one(linked.spans(handle.id, 1))
    request, sent = _one(spans.named("request")), _one(spans.named("send "))
    name = linked.backend.name
    assert (sent.kind, sent.trace_id, sent.parent_id) == (
        "PRODUCER",
        request.trace_id,
        request.span_id,
    )
    assert sent.attributes["messaging.system"] == name
    queue = linked.backend.settings["default_queue"]
    assert sent.attributes["messaging.destination.name"] == queue
    assert ran.name == f"process {TASK_MODULE}.record"
    assert ran.kind == "CONSUMER"
    assert ran.links == [(request.trace_id, sent.span_id)]
    assert ran.parent_id is None
    assert ran.attributes["messaging.system"] == name
    assert ran.attributes["messaging.destination.name"] == queue
    assert ran.attributes["bgmigrate.job.attempt"] == 1
    anyio.run(bgmigrate.get_runtime().close)


def test_a_retried_job_has_one_child_span_per_attempt_and_logs_carry_its_ids(
    child: Worker, spans: Spans, log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(child, monkeypatch)
    handle = _enqueue_in_request(tasks.flaky, log, 2)
    assert handle.result(timeout=WAIT) == 3
    sent = _one(spans.named("send "))
    runs = child.spans(handle.id, 3)
    assert {(run.trace_id, run.parent_id) for run in runs} == {(sent.trace_id, sent.span_id)}
    assert [run.attributes["bgmigrate.job.retry_count"] for run in runs] == [0, 1, 2]
    assert [run.status for run in runs] == ["ERROR", "ERROR", "UNSET"]
    exceptions = [event["attributes"] for run in runs for event in run.events]
    assert [(e["exception.type"], e["exception.message"]) for e in exceptions] == [
        ("ConnectionError", "attempt 1 fails"),
        ("ConnectionError", "attempt 2 fails"),
    ]
    retrying = wait_until(
        lambda: (
            [
                r
                for r in read_logs(child.logs_path)
                if r["job_id"] == handle.id and "retrying" in r["message"]
            ]
            or None
        ),
        timeout=WAIT,
        what="the worker's retry log lines",
    )
    assert {(r["trace_id"], r["span_id"]) for r in retrying} <= {
        (run.trace_id, run.span_id) for run in runs[:2]
    }
    assert {r["trace_id"] for r in retrying} == {sent.trace_id}
    anyio.run(bgmigrate.get_runtime().close)


@pytest.fixture(scope="module")
def instrumented(
    redis_url: str, _workers: WorkerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Worker:
    """A Celery worker where OpenTelemetry's Celery instrumentation is active."""
    files = tmp_path_factory.mktemp("instrumented")
    return _start("celery", redis_url, _workers, files, **{CELERY_INSTRUMENTOR_ENV: "1"})


@pytest.fixture
def celery_instrumentor() -> Iterator[None]:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    instrumentor = CeleryInstrumentor()  # type: ignore[no-untyped-call]
    instrumentor.instrument()
    yield
    instrumentor.uninstrument()


@pytest.mark.usefixtures("celery_instrumentor")
def test_beside_the_celery_instrumentation_only_its_spans_are_made(
    instrumented: Worker, spans: Spans, log: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _configure(instrumented, monkeypatch)
    handle = _enqueue_in_request(tasks.record, log, "a")
    handle.result(timeout=WAIT)
    request = _one(spans.named("request"))
    published = _one(spans.named("apply_async/"))
    assert spans.named("send ") == []
    assert (published.trace_id, published.parent_id) == (request.trace_id, request.span_id)
    ran = _one(instrumented.spans(handle.id, 1))
    assert ran.name == f"run/{TASK_MODULE}.record"
    assert (ran.trace_id, ran.parent_id) == (request.trace_id, published.span_id)
    anyio.run(bgmigrate.get_runtime().close)
