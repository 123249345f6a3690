"""The test process's spans: an SDK tracer provider with an in-memory exporter, set once.

OpenTelemetry's global provider can be set once per process, so it stays for the whole session;
spans are kept only while a test records them (:func:`recording`), so that other tests' jobs do
not pile up in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bgmigrate.testing.span_files import SpanRecord, span_record


class _WhileRecording(SimpleSpanProcessor):
    active = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.active:
            super().on_end(span)


_exporter = InMemorySpanExporter()
_processor = _WhileRecording(_exporter)
_installed = False


class Spans:
    """The spans ended in this process while a test records."""

    def finished(self) -> list[SpanRecord]:
        """Every span ended so far, in the order they ended."""
        return [span_record(span) for span in _exporter.get_finished_spans()]

    def named(self, prefix: str) -> list[SpanRecord]:
        """The spans whose name starts with ``prefix``."""
        return [span for span in self.finished() if span.name.startswith(prefix)]


@contextmanager
def recording() -> Iterator[Spans]:
    """Record the spans ended in this process inside the block."""
    global _installed
    if not _installed:
        provider = TracerProvider()
        provider.add_span_processor(_processor)
        trace.set_tracer_provider(provider)
        _installed = True
    _exporter.clear()
    _processor.active = True
    try:
        yield Spans()
    finally:
        _processor.active = False
        _exporter.clear()
