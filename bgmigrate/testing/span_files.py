"""Spans and log records of worker subprocesses, written to files that a test reads.

:func:`export_spans_to` sends every finished span to a file, one JSON object per line
(OpenTelemetry's own ``Span.to_json``), and :func:`log_jobs_to` writes every log record with its
job and trace ids; :func:`read_spans` and :func:`read_logs` read them back. A worker sets both up
by importing :mod:`bgmigrate.testing.tracing_setup` as one of its task modules.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from bgmigrate.job_logs import JobLogFilter


@dataclass(frozen=True)
class SpanRecord:
    """What a test checks of one exported span (ids as 32/16 hex digits)."""

    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_id: str | None
    links: list[tuple[str, str]]
    """(trace id, span id) of each linked span."""
    attributes: dict[str, Any]
    status: str
    events: list[dict[str, Any]]
    start: datetime
    end: datetime


def _one_line(span: ReadableSpan) -> str:
    return f"{span.to_json(indent=None)}\n"


def export_spans_to(path: Path) -> TracerProvider:
    """Make a tracer provider that appends each finished span to ``path`` the global one."""
    provider = TracerProvider()
    # Opened once and flushed per span; Celery's forked pool children append through it too.
    out = path.open("a", encoding="utf-8")
    provider.add_span_processor(
        SimpleSpanProcessor(ConsoleSpanExporter(out=out, formatter=_one_line))
    )
    trace.set_tracer_provider(provider)
    return provider


def read_spans(path: Path) -> list[SpanRecord]:
    """Every span written to ``path`` so far, in the order they ended."""
    if not path.exists():
        return []
    return [_record(json.loads(line)) for line in path.read_text().splitlines() if line.strip()]


def span_record(span: ReadableSpan) -> SpanRecord:
    """What a test checks of a span recorded in this process."""
    return _record(json.loads(span.to_json(indent=None)))


def _hex(value: str) -> str:
    return value.removeprefix("0x")


def _record(data: dict[str, Any]) -> SpanRecord:
    return SpanRecord(
        name=data["name"],
        kind=data["kind"].removeprefix("SpanKind."),
        trace_id=_hex(data["context"]["trace_id"]),
        span_id=_hex(data["context"]["span_id"]),
        parent_id=None if data["parent_id"] is None else _hex(data["parent_id"]),
        links=[
            (_hex(link["context"]["trace_id"]), _hex(link["context"]["span_id"]))
            for link in data["links"]
        ],
        attributes=data["attributes"],
        status=data["status"]["status_code"],
        events=data["events"],
        start=datetime.fromisoformat(data["start_time"]),
        end=datetime.fromisoformat(data["end_time"]),
    )


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        fields = ("job_id", "trace_id", "span_id")
        data = {name: getattr(record, name, None) for name in fields}
        return json.dumps({**data, "logger": record.name, "message": record.getMessage()})


def log_jobs_to(path: Path) -> None:
    """Append every record of the root logger to ``path`` as JSON, with its job and trace ids
    (through :class:`~bgmigrate.job_logs.JobLogFilter`)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.addFilter(JobLogFilter())
    handler.setFormatter(_JsonLines())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(min(root.level or logging.INFO, logging.INFO))


def read_logs(path: Path) -> list[dict[str, Any]]:
    """Every record written to ``path`` so far."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
