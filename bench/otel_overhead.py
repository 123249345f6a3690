"""Cost of bgmigrate's OpenTelemetry spans per enqueue and per run, with and without OpenTelemetry.

Run it (no services needed)::

    .venv/bin/python bench/otel_overhead.py [--tasks 5000] [--rounds 5]

Each round runs one subprocess per setup, one after the other:

- ``absent``: OpenTelemetry hidden from bgmigrate's modules, as when the ``otel`` extra is not
  installed (FastAPI 0.16x itself needs ``opentelemetry-api``, so it is hidden only from the
  modules imported after FastAPI: bgmigrate's tracing takes its no-op path, as without the API);
- ``api``: ``opentelemetry-api`` importable and no SDK configured (non-recording spans);
- ``sdk``: the SDK with a ``BatchSpanProcessor`` and an exporter that drops the spans, so that
  what is measured is making and ending the spans, not shipping them.

Each subprocess hands ``--tasks`` no-op async jobs to the in-process backend one request at a
time (``dispatch_request`` of one job: the enqueue, with its ``send`` span), then runs them all
(the request's background tasks: each run, with its ``process`` span), and prints the
microseconds per enqueue and per run; then it times entering and leaving bgmigrate's
``tracing.sending`` and ``tracing.running`` alone. The medians over the rounds are printed side by
side with the overhead against ``absent``. Nothing is asserted: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import bgmigrate

SETUPS = ("absent", "api", "sdk")


@bgmigrate.task
async def noop() -> None:
    """The cheapest task there is."""


def _hide_opentelemetry() -> None:
    """Make ``import opentelemetry...`` fail for every module imported from now on."""
    for name in [name for name in sys.modules if name.split(".")[0] == "opentelemetry"]:
        sys.modules[name] = None  # type: ignore[assignment]
    sys.modules["opentelemetry"] = None  # type: ignore[assignment]


def _configure_sdk() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        SpanExporter,
        SpanExportResult,
    )

    class Discard(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(Discard()))
    trace.set_tracer_provider(provider)


def measure(setup: str, tasks: int) -> dict[str, float]:
    """Microseconds per enqueue and per run of ``tasks`` no-op jobs in this process."""
    if setup == "absent":
        _hide_opentelemetry()
        # ``@task`` above loaded the adapter with OpenTelemetry: load it again without.
        importlib.reload(importlib.import_module("bgmigrate.tracing"))
        importlib.reload(importlib.import_module("bgmigrate.adapters.inprocess"))
    elif setup == "sdk":
        _configure_sdk()
    from starlette.background import BackgroundTasks

    from bgmigrate import tracing
    from bgmigrate.adapters.inprocess import InProcessBackend

    assert tracing.enabled() == (setup != "absent")

    runtime = bgmigrate.configure(backend="inprocess", inprocess_budget=60)
    backend = runtime.backend("inprocess")
    assert isinstance(backend, InProcessBackend)

    async def once(count: int) -> tuple[float, float]:
        jobs = [runtime.prepare(noop, (), {})[1] for _ in range(count)]
        background = BackgroundTasks()
        started = time.perf_counter()
        for job in jobs:
            await backend.dispatch_request([job], background)
        enqueued = time.perf_counter()
        await background()
        ran = time.perf_counter()
        return (enqueued - started) / count * 1e6, (ran - enqueued) / count * 1e6

    async def main() -> dict[str, float]:
        await once(500)  # warm up
        enqueue, run = zip(*[await once(tasks) for _ in range(3)], strict=True)
        return {"enqueue_us": min(enqueue), "run_us": min(run)}

    figures = asyncio.run(main())
    job = runtime.prepare(noop, (), {})[1]
    return {**figures, **_tracing_alone(tracing, job, tasks * 10)}


def _tracing_alone(tracing: Any, job: Any, count: int) -> dict[str, float]:
    """Microseconds of entering and leaving bgmigrate's ``sending`` and ``running`` alone."""

    def nowhere(_: object) -> None:
        return None

    jobs = [job]
    started = time.perf_counter()
    for _ in range(count):
        with tracing.sending("inprocess", jobs, nowhere):
            pass
    sent = time.perf_counter()
    for _ in range(count):
        with tracing.running("inprocess", "noop", job.id, tracing.NO_CARRIER, attempt=1):
            pass
    ran = time.perf_counter()
    return {
        "sending_us": (sent - started) / count * 1e6,
        "running_us": (ran - sent) / count * 1e6,
    }


def _round(setup: str, tasks: int) -> dict[str, float]:
    argv = [sys.executable, __file__, "--measure", setup, "--tasks", str(tasks)]
    completed = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600)
    figures: dict[str, float] = json.loads(completed.stdout)
    return figures


def main() -> None:
    """Measure every setup in interleaved rounds and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--measure", choices=SETUPS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.tasks)))
        return
    rounds: dict[str, list[dict[str, float]]] = {setup: [] for setup in SETUPS}
    for _ in range(args.rounds):
        for setup in SETUPS:
            rounds[setup].append(_round(setup, args.tasks))
    keys = ("enqueue_us", "run_us", "sending_us", "running_us")
    medians = {
        setup: {key: statistics.median(r[key] for r in found) for key in keys}
        for setup, found in rounds.items()
    }
    base = medians["absent"]
    print("| OpenTelemetry | per enqueue | overhead | per run | overhead |")
    print("|---|---|---|---|---|")
    for setup, figures in medians.items():
        enqueue, run = figures["enqueue_us"], figures["run_us"]
        print(
            f"| {setup} | {enqueue:.2f} µs | {enqueue - base['enqueue_us']:+.2f} µs "
            f"({enqueue / base['enqueue_us'] - 1:+.0%}) | {run:.2f} µs | "
            f"{run - base['run_us']:+.2f} µs ({run / base['run_us'] - 1:+.0%}) |"
        )
    print()
    print("bgmigrate's tracing alone (entering and leaving `sending` / `running`):")
    for setup, figures in medians.items():
        print(f"- {setup}: {figures['sending_us']:.2f} µs / {figures['running_us']:.2f} µs")


if __name__ == "__main__":
    main()
