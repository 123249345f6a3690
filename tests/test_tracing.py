"""OpenTelemetry spans on the in-process backend: the enqueue span under the request's, one
run span per attempt linked to it (or its child), exceptions recorded, job ids everywhere.

The Celery and ARQ workers are tested in ``tests/adapters/test_tracing_workers.py``.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry import trace
from starlette.types import ASGIApp, Receive, Scope, Send

import bgmigrate
from bgmigrate import RetryPolicy, Tasks, task, tracing
from bgmigrate.job_logs import JobLogFilter
from bgmigrate.testing.span_files import SpanRecord
from tests.otel_spans import Spans, recording

calls: list[int] = []
seen: list[logging.LogRecord] = []
logger = logging.getLogger("tests.tracing")


@task
def greet(name: str) -> str:
    """Log a line, return a greeting."""
    logger.warning("greeting %s", name)
    return f"hello {name}"


@task(retry=RetryPolicy(max_attempts=3, backoff=0.01))
def flaky() -> int:
    """Fail twice, then return the attempt number."""
    calls.append(1)
    if len(calls) < 3:
        raise ConnectionError(f"attempt {len(calls)} fails")
    return len(calls)


@pytest.fixture
def spans() -> Iterator[Spans]:
    with recording() as recorded:
        yield recorded


@pytest.fixture
def child_runtime(runtime: bgmigrate.runtime.Runtime) -> Iterator[bgmigrate.runtime.Runtime]:
    """The in-process runtime with run spans as children of enqueue spans."""
    current = bgmigrate.configure(backend="inprocess", drain_timeout=5, trace_parent="child")
    yield current
    anyio.run(current.close)


def _request_span() -> trace.Span:
    return trace.get_tracer("tests").start_span("request", kind=trace.SpanKind.SERVER)


def _one(found: list[SpanRecord]) -> SpanRecord:
    assert len(found) == 1, found
    return found[0]


def test_enqueue_span_is_a_producer_child_of_the_current_span(spans: Spans) -> None:
    with trace.use_span(_request_span(), end_on_exit=True):
        handle = greet.enqueue("ada")
    assert handle.result(timeout=5) == "hello ada"
    request, sent = _one(spans.named("request")), _one(spans.named("send "))
    assert sent.name == "send tests.test_tracing.greet"
    assert sent.kind == "PRODUCER"
    assert (sent.trace_id, sent.parent_id) == (request.trace_id, request.span_id)
    assert sent.attributes == {
        "messaging.system": "inprocess",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.message.id": handle.id,
        "bgmigrate.task.name": "tests.test_tracing.greet",
    }


def test_run_span_is_linked_to_the_enqueue_span_in_a_trace_of_its_own(spans: Spans) -> None:
    with trace.use_span(_request_span(), end_on_exit=True):
        handle = greet.enqueue("ada")
    handle.result(timeout=5)
    sent, ran = _one(spans.named("send ")), _one(spans.named("process "))
    assert ran.kind == "CONSUMER"
    assert ran.links == [(sent.trace_id, sent.span_id)]
    assert ran.parent_id is None
    assert ran.trace_id != sent.trace_id
    assert ran.attributes["messaging.message.id"] == handle.id
    assert ran.attributes["messaging.operation.type"] == "process"
    assert (
        ran.attributes["bgmigrate.job.attempt"],
        ran.attributes["bgmigrate.job.retry_count"],
    ) == (1, 0)


def test_trace_parent_child_makes_the_run_span_a_child_of_the_enqueue_span(
    spans: Spans, child_runtime: bgmigrate.runtime.Runtime
) -> None:
    with trace.use_span(_request_span(), end_on_exit=True):
        handle = greet.enqueue("ada")
    handle.result(timeout=5)
    sent, ran = _one(spans.named("send ")), _one(spans.named("process "))
    assert (ran.trace_id, ran.parent_id) == (sent.trace_id, sent.span_id)
    assert ran.links == [(sent.trace_id, sent.span_id)]


def test_each_attempt_has_its_span_with_its_retry_count_and_exception(
    spans: Spans, child_runtime: bgmigrate.runtime.Runtime
) -> None:
    calls.clear()
    handle = flaky.enqueue()
    assert handle.result(timeout=5) == 3
    sent, runs = _one(spans.named("send ")), spans.named("process ")
    assert [run.attributes["bgmigrate.job.retry_count"] for run in runs] == [0, 1, 2]
    assert {(run.trace_id, run.parent_id) for run in runs} == {(sent.trace_id, sent.span_id)}
    assert [run.status for run in runs] == ["ERROR", "ERROR", "UNSET"]
    failures = [run.events for run in runs[:2]]
    assert [[event["name"] for event in events] for events in failures] == [["exception"]] * 2
    assert failures[1][0]["attributes"]["exception.type"] == "ConnectionError"
    assert failures[1][0]["attributes"]["exception.message"] == "attempt 2 fails"
    assert runs[0].attributes["error.type"] == "builtins.ConnectionError"
    assert "error.type" not in runs[2].attributes


def test_a_request_span_reaches_jobs_added_with_tasks(
    spans: Spans, child_runtime: bgmigrate.runtime.Runtime
) -> None:
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/greet")
    def post(tasks: Tasks) -> dict[str, str]:
        tasks.add_task(greet, "ada")
        return {}

    app.add_middleware(_RequestSpans)
    with TestClient(app) as client:
        assert client.post("/greet").status_code == 200
    request, sent, ran = (_one(spans.named(name)) for name in ("request POST", "send ", "process "))
    assert request.trace_id == sent.trace_id == ran.trace_id
    assert ran.parent_id == sent.span_id


class _RequestSpans:
    """A request span around each HTTP request, as a web framework's instrumentation opens."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        name = f"request {scope.get('method')} {scope.get('path')}"
        with trace.get_tracer("tests").start_as_current_span(name, kind=trace.SpanKind.SERVER):
            await self.app(scope, receive, send)


def test_log_records_in_a_job_carry_its_id_and_trace(
    spans: Spans, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(JobLogFilter())
    with caplog.at_level(logging.WARNING, logger="tests.tracing"):
        handle = greet.enqueue("ada")
        handle.result(timeout=5)
        logger.warning("outside any job")
    inside, outside = caplog.records
    ran = _one(spans.named("process "))
    assert (inside.job_id, inside.trace_id, inside.span_id) == (  # type: ignore[attr-defined]
        handle.id,
        ran.trace_id,
        ran.span_id,
    )
    assert (outside.job_id, outside.trace_id) == ("", "")  # type: ignore[attr-defined]


def test_a_failed_enqueue_is_recorded_on_its_span(spans: Spans) -> None:
    bgmigrate.configure(backend="arq", broker_url="redis://127.0.0.1:1/0")
    with pytest.raises(bgmigrate.EnqueueError):
        greet.enqueue("ada")
    sent = _one(spans.named("send "))
    assert sent.attributes["messaging.system"] == "arq"
    assert sent.attributes["messaging.destination.name"] == "arq:queue"
    assert sent.status == "ERROR"
    assert sent.events[0]["attributes"]["exception.type"] == "bgmigrate.errors.EnqueueError"


WITHOUT_OPENTELEMETRY = """
import importlib, logging, sys
import bgmigrate  # FastAPI may need opentelemetry-api: hide it from bgmigrate's modules only
for name in [name for name in sys.modules if name.split(".")[0] == "opentelemetry"]:
    sys.modules[name] = None
sys.modules["opentelemetry"] = None
from bgmigrate import job_logs, tracing
importlib.reload(job_logs)
assert not tracing.enabled()
from bgmigrate import task

@task
def job() -> str:
    record = logging.LogRecord("x", logging.INFO, "job.py", 1, "in a job", None, None)
    job_logs.JobLogFilter().filter(record)
    return f"{record.job_id}|{record.trace_id}"

handle = bgmigrate.configure(backend="inprocess").enqueue(job, (), {})
print(handle.id, handle.result(timeout=5))
"""


def test_without_opentelemetry_jobs_run_and_logs_carry_the_job_id() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", WITHOUT_OPENTELEMETRY],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    job_id, result = completed.stdout.split()
    assert result == f"{job_id}|"


WITHOUT_SDK = """
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from bgmigrate import tracing
from bgmigrate.backend import Job
from bgmigrate.testing.outbox_app import record

jobs = [Job(task=record, args=(), kwargs={}) for _ in range(3)]
caller = SpanContext(trace_id=0xAB, span_id=0xCD, is_remote=True, trace_flags=TraceFlags(1))
with trace.use_span(NonRecordingSpan(caller)):
    with tracing.sending("arq", jobs, lambda job: "q") as carriers:
        print(sorted({carriers[job.id]["traceparent"] for job in jobs}))
with tracing.sending("arq", jobs, lambda job: "q") as carriers:
    print([dict(carriers[job.id]) for job in jobs])
"""


def test_without_an_sdk_every_job_carries_the_callers_context_as_it_is() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", WITHOUT_SDK], capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        f"['00-{0xAB:032x}-{0xCD:016x}-01']",
        "[{}, {}, {}]",
    ]


@pytest.mark.parametrize(
    "carried",
    [None, "00-abc", ["traceparent"], {"traceparent": ["00-abc"]}, {"traceparent": 7}],
)
def test_a_malformed_trace_field_is_removed_and_ignored(carried: object) -> None:
    kwargs = {"name": "ada", tracing.FIELD: carried}
    assert tracing.pop_carrier(kwargs) == {}
    assert kwargs == {"name": "ada"}


def test_a_garbled_traceparent_starts_a_run_span_without_link(spans: Spans) -> None:
    with tracing.running("arq", "t", "job-1", {"traceparent": "garbage"}, attempt=1):
        pass
    ran = _one(spans.named("process "))
    assert (ran.links, ran.parent_id) == ([], None)
