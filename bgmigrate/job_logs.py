"""Log records that say which job, and which trace, they belong to.

While an attempt runs, :func:`enter` holds its job id; :class:`JobLogFilter` copies it
onto every record it sees, with the current OpenTelemetry trace and span ids, as the record
attributes ``job_id``, ``trace_id`` and ``span_id`` (empty strings outside a job or a span).
Add the filter to a handler and use them in its format, e.g.
``%(levelname)s %(name)s [job=%(job_id)s trace=%(trace_id)s] %(message)s``.
"""

from __future__ import annotations

import contextvars
import logging

try:
    from opentelemetry import trace
except ImportError:  # the ``otel`` extra is not installed: records carry the job id only
    trace = None  # type: ignore[assignment]

_job_id: contextvars.ContextVar[str] = contextvars.ContextVar("bgmigrate_job_id", default="")


def enter(job_id: str) -> contextvars.Token[str]:
    """Mark the code run from here as attempt code of job ``job_id`` (its threads too, since
    bgmigrate runs sync tasks with a copy of the caller's context), until :func:`leave`."""
    return _job_id.set(job_id)


def leave(token: contextvars.Token[str]) -> None:
    """End what the :func:`enter` that returned ``token`` began."""
    _job_id.reset(token)


def job_id() -> str:
    """The id of the job whose attempt is running here, or ``""``."""
    return _job_id.get()


class JobLogFilter(logging.Filter):
    """Adds ``job_id``, ``trace_id`` and ``span_id`` (hex, or ``""``) to every record; drops none.

    In a ``logging.config.dictConfig``: ``"filters": {"job": {"()": "bgmigrate.JobLogFilter"}}``
    and ``"filters": ["job"]`` on the handlers.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """Set the record's attributes and keep it."""
        record.job_id = _job_id.get()
        record.trace_id = record.span_id = ""
        if trace is not None:
            context = trace.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = trace.format_trace_id(context.trace_id)
                record.span_id = trace.format_span_id(context.span_id)
        return True
