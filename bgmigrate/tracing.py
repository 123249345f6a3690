"""OpenTelemetry spans for jobs: a ``send`` span per enqueued job, a ``process`` span per attempt.

An enqueue opens a ``PRODUCER`` span per job, a child of the caller's current span (the request's,
under an instrumented web framework), and writes its W3C trace context into the message: Celery's
message headers (where Celery's own and OpenTelemetry's Celery instrumentation put it), the job's
``bgmigrate:trace`` keyword argument on ARQ (arq jobs have no headers), the job itself in process.
A worker opens a ``CONSUMER`` span per attempt, *linked* to the enqueue span as the messaging
semantic conventions recommend (a new trace), or its *child* with ``BGMIGRATE_TRACE_PARENT=child``
(one trace from the request to the job). Both carry the messaging attributes and the job id; an
attempt that raises records the exception and ends with status ``ERROR``.

OpenTelemetry is optional (the ``otel`` extra): without ``opentelemetry-api`` the import below
fails once and every function here takes its no-op path. With the API and no SDK no enqueue
span is made (it could record nothing): each job carries the caller's context as it is. Where
``opentelemetry-instrumentation-celery`` is active, it makes the Celery publish and run spans,
and bgmigrate makes none of its own there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from bgmigrate import job_logs

if TYPE_CHECKING:
    from bgmigrate.backend import Job

try:
    from opentelemetry import context as otel_context
    from opentelemetry import propagate, trace
except ImportError:  # the ``otel`` extra is not installed: no spans, nothing to carry
    trace = None  # type: ignore[assignment]

FIELD = "bgmigrate:trace"
"""Keyword argument of an ARQ job that carries the enqueue span's W3C trace context."""
LINK, CHILD = "link", "child"
"""How a job's run span relates to its enqueue span (``BGMIGRATE_TRACE_PARENT``)."""
ATTEMPT = "bgmigrate.job.attempt"
"""Span attribute: the attempt's number, from 1."""
RETRY_COUNT = "bgmigrate.job.retry_count"
"""Span attribute: attempts before this one."""
TASK_NAME = "bgmigrate.task.name"
"""Span attribute: the task's registered name."""

Carrier = Mapping[str, str]
"""W3C trace context fields (``traceparent``, ``tracestate``...) as a message carries them."""
NO_CARRIER: Carrier = MappingProxyType({})
"""The carrier of a job sent without a span."""
_NO_CARRIERS: Mapping[str, Carrier] = MappingProxyType({})

_tracer = None if trace is None else trace.get_tracer("bgmigrate")


def enabled() -> bool:
    """Whether OpenTelemetry's API is importable (spans are made, recorded or not)."""
    return _tracer is not None


def celery_instrumented() -> bool:
    """Whether ``opentelemetry-instrumentation-celery`` traces Celery in this process.

    Never imports it: an instrumentation that was not imported cannot be active.
    """
    module = sys.modules.get("opentelemetry.instrumentation.celery")
    if module is None:
        return False
    return bool(module.CeleryInstrumentor().is_instrumented_by_opentelemetry)


def sending(
    system: str,
    jobs: Sequence[Job],
    destination: Callable[[Job], str | None],
    *,
    traced: bool = True,
) -> AbstractContextManager[Mapping[str, Carrier]]:
    """Open one ``send`` span per job, for as long as the jobs are being handed over.

    Yields each job's carrier by job id (none when OpenTelemetry is absent, or with
    ``traced=False``: another instrumentation makes the span). When the block raises, every
    span records the exception.
    """
    if _tracer is None or not traced:
        return nullcontext(_NO_CARRIERS)
    if not _recording():
        # OpenTelemetry's no-op spans carry the current span's context unchanged: every job
        # gets the carrier of the current context, injected once for the whole batch.
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        return nullcontext(dict.fromkeys((job.id for job in jobs), carrier))
    return _send_spans(system, jobs, destination)


def _recording() -> bool:
    """Whether an SDK is installed, whose spans may record (else every span is a no-op)."""
    provider = trace.get_tracer_provider()
    return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))


@contextmanager
def _send_spans(
    system: str, jobs: Sequence[Job], destination: Callable[[Job], str | None]
) -> Iterator[Mapping[str, Carrier]]:
    assert _tracer is not None
    spans, carriers = [], {}
    for job in jobs:
        attributes = _attributes(system, "send", job.task.name, job.id, destination(job))
        span = _tracer.start_span(
            f"send {job.task.name}", kind=trace.SpanKind.PRODUCER, attributes=attributes
        )
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        spans.append(span)
        carriers[job.id] = carrier
    try:
        yield carriers
    except BaseException as exc:
        for span in spans:
            _failed(span, exc)
        raise
    finally:
        for span in spans:
            span.end()


def running(
    system: str,
    task_name: str,
    job_id: str,
    carrier: Carrier,
    *,
    attempt: int,
    destination: str | None = None,
    parent: str = LINK,
    traced: bool = True,
) -> Attempt:
    """Run one attempt of job ``job_id`` in a ``process`` span related to its enqueue span.

    ``parent`` is :data:`LINK` (a new trace, linked) or :data:`CHILD`; ``traced=False`` makes
    no span (another instrumentation makes it). Logs inside carry the job id either way (see
    :mod:`bgmigrate.job_logs`).
    """
    if _tracer is None or not traced:
        return Attempt(job_id, None)
    attributes = _attributes(system, "process", task_name, job_id, destination)
    attributes[ATTEMPT], attributes[RETRY_COUNT] = attempt, attempt - 1
    # From an empty context: an in-process job may run while the request's span is still
    # current, and must not become its child by accident.
    sent_in = propagate.extract(carrier, context=otel_context.Context())
    sent = trace.get_current_span(sent_in).get_span_context()
    span = _tracer.start_span(
        f"process {task_name}",
        context=sent_in if parent == CHILD else otel_context.Context(),
        kind=trace.SpanKind.CONSUMER,
        links=[trace.Link(sent)] if sent.is_valid else [],
        attributes=attributes,
    )
    return Attempt(job_id, span)


class Attempt:
    """One running attempt (a context manager): its span, if any, is current inside, and an
    exception that escapes it is recorded on the span."""

    def __init__(self, job_id: str, span: Any) -> None:
        self._job_id = job_id
        self._span = span
        self._recorded = False
        self._tokens: tuple[Any, Any] | None = None

    def __enter__(self) -> Attempt:
        span_token = None
        if self._span is not None:
            span_token = otel_context.attach(trace.set_span_in_context(self._span))
        self._tokens = (job_logs.enter(self._job_id), span_token)
        return self

    def failed(self, exc: BaseException) -> None:
        """Record that the attempt failed with ``exc`` (once; an exception raised in its place,
        such as a broker's retry signal, is not recorded again)."""
        if self._span is not None and not self._recorded:
            _failed(self._span, exc)
        self._recorded = True

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            self.failed(exc)
        assert self._tokens is not None
        job_token, span_token = self._tokens
        if span_token is not None:
            otel_context.detach(span_token)
            self._span.end()
        job_logs.leave(job_token)


def _attributes(
    system: str, operation: str, task_name: str, job_id: str, destination: str | None
) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": system,
        "messaging.operation.type": operation,
        "messaging.operation.name": operation,
        "messaging.message.id": job_id,
        TASK_NAME: task_name,
    }
    if destination is not None:
        attributes["messaging.destination.name"] = destination
    return attributes


def _failed(span: Any, exc: BaseException) -> None:
    kind = type(exc)
    span.set_attribute("error.type", f"{kind.__module__}.{kind.__qualname__}")
    span.record_exception(exc)
    span.set_status(trace.Status(trace.StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))


def extract_fields(get: Callable[[str], object]) -> Carrier:
    """The trace context fields that ``get(name)`` returns as strings (others are ignored: a
    malformed message loses its trace, never its job)."""
    if _tracer is None:
        return NO_CARRIER
    found = {name: get(name) for name in propagate.get_global_textmap().fields}
    return {name: value for name, value in found.items() if isinstance(value, str)}


def pop_carrier(kwargs: dict[str, Any]) -> Carrier:
    """Remove :data:`FIELD` from a job's keyword arguments and return its carrier."""
    carried = kwargs.pop(FIELD, None)
    if not isinstance(carried, dict):
        return NO_CARRIER
    return extract_fields(carried.get)
