"""Draw a real trace, request -> enqueue -> worker run, as a waterfall PNG (docs/img/trace.png).

Run it with a Redis (the ``bench`` and ``dev`` extras installed)::

    .venv/bin/python bench/trace_waterfall.py --redis-url redis://127.0.0.1:6379/1

It starts a real ARQ worker (``BGMIGRATE_TRACE_PARENT=child``, so that the run spans are in the
request's trace) that exports its spans to a file through :mod:`bgmigrate.testing.tracing_setup`,
sends one request through a FastAPI app whose own telemetry makes the request span (FastAPI
0.16x), with the OpenTelemetry SDK exporting this process's spans to another file, and waits for
the worker's spans. The request adds two tasks: one that fails its first attempt and is retried,
one that succeeds. Every bar in the picture is one exported span: its name, start and end.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from fastapi import FastAPI
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import Tasks
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import TASK_MODULE, WAIT, start_backend
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.span_files import SpanRecord, export_spans_to, read_spans
from bgmigrate.testing.tracing_setup import SPANS_ENV
from bgmigrate.testing.workers import WorkerFactory

COLORS = {"SERVER": "#4c72b0", "PRODUCER": "#55a868", "CONSUMER": "#8172b2"}
"""Bar colour by span kind (other kinds grey, failed spans red)."""


def _app(log: str) -> FastAPI:
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/signup")
    def signup(tasks_: Tasks) -> dict[str, str]:
        tasks_.add_task(tasks.flaky, log, 1)  # fails once, then succeeds
        tasks_.add_task(tasks.record, log, "welcome e-mail")
        return {"status": "ok"}

    return app


def collect(redis_url: str, files: Path) -> list[SpanRecord]:
    """The spans of one request through a real ARQ worker, from both processes."""
    web_spans, worker_spans = files / "web.jsonl", files / "worker.jsonl"
    export_spans_to(web_spans)
    workers = WorkerFactory()
    try:
        env = {
            "BGMIGRATE_TASK_MODULES": f"{TASK_MODULE},bgmigrate.testing.tracing_setup",
            "BGMIGRATE_TRACE_PARENT": "child",
            SPANS_ENV: str(worker_spans),
        }
        backend = start_backend("arq", redis_url, workers, env=env)
        os.environ[tasks.REDIS_URL_ENV] = redis_url
        bgmigrate.configure(**backend.settings)
        log = f"bgmigrate:bench:trace:{uuid.uuid4().hex}"
        with TestClient(_app(log)) as client:
            client.post("/signup").raise_for_status()
        wait_until(
            lambda: len([s for s in read_spans(worker_spans) if s.kind == "CONSUMER"]) >= 3,
            timeout=WAIT,
            what="the worker's three run spans",
        )
    finally:
        workers.close()
    spans = read_spans(web_spans) + read_spans(worker_spans)
    (request,) = [span for span in spans if span.kind == "SERVER"]
    return [span for span in spans if span.trace_id == request.trace_id]


def _ordered(spans: Sequence[SpanRecord]) -> list[tuple[int, SpanRecord]]:
    """Spans depth-first from the root, children by start time, with their depth."""
    children: dict[str | None, list[SpanRecord]] = {}
    for span in sorted(spans, key=lambda span: span.start):
        children.setdefault(span.parent_id, []).append(span)
    ordered: list[tuple[int, SpanRecord]] = []

    def visit(parent: str | None, depth: int) -> None:
        for span in children.get(parent, []):
            ordered.append((depth, span))
            visit(span.span_id, depth + 1)

    visit(None, 0)
    return ordered


def draw(spans: Sequence[SpanRecord], path: Path) -> None:
    """Draw ``spans`` (one trace) as a waterfall: one row per span, time in milliseconds."""
    rows = _ordered(spans)
    origin = min(span.start for span in spans)
    total = (max(span.end for span in spans) - origin).total_seconds() * 1000
    figure, axes = plt.subplots(figsize=(11, 0.42 * len(rows) + 1.3))
    for index, (depth, span) in enumerate(rows):
        start = (span.start - origin).total_seconds() * 1000
        duration = (span.end - span.start).total_seconds() * 1000
        width = max(duration, total / 250)  # drawn at least this wide, to be seen
        color = "#c44e52" if span.status == "ERROR" else COLORS.get(span.kind, "#999999")
        axes.barh(index, width, left=start, color=color, height=0.6)
        attempt = span.attributes.get("bgmigrate.job.attempt")
        what = span.kind.lower() + (f", attempt {attempt}" if attempt else "")
        label = f"{'  ' * depth}{span.name.replace('bgmigrate.testing.', '')}  [{what}]"
        axes.text(
            -0.01,
            index,
            label,
            transform=axes.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=8,
            family="monospace",
        )
        axes.text(start + width, index, f" {duration:.1f} ms", va="center", fontsize=7)
    axes.set_yticks([])
    axes.invert_yaxis()
    axes.set_xlabel("milliseconds since the request started")
    trace_id = spans[0].trace_id
    figure.suptitle(
        f"trace {trace_id}: request -> enqueue -> ARQ worker (red: a failed attempt)",
        fontsize=9,
        x=0.02,
        ha="left",
    )
    figure.subplots_adjust(left=0.42, right=0.97)
    figure.savefig(path, dpi=110)


def main() -> None:
    """Collect one real trace and draw it."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    default_url = os.environ.get("BGMIGRATE_TEST_REDIS_URL", "redis://127.0.0.1:6379/1")
    parser.add_argument("--redis-url", default=default_url)
    parser.add_argument("--out", type=Path, default=Path("docs/img/trace.png"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bgmigrate-trace-") as files:
        spans = collect(args.redis_url, Path(files))
    draw(spans, args.out)
    for depth, span in _ordered(spans):
        print(f"{'  ' * depth}{span.name} {span.kind} {span.span_id} parent={span.parent_id}")


if __name__ == "__main__":
    main()
