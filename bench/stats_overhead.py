"""Cost of the in-process backend's statistics, against the cost of a no-op task.

Run it (no services needed)::

    .venv/bin/python bench/stats_overhead.py [--tasks 20000] [--rounds 7]

Each round pushes ``--tasks`` no-op tasks through the in-process backend (``enqueue`` of one
batch, waiting for the last result), once with statistics recorded as in production and once
with recording switched off, interleaved; it prints the median microseconds per task of each and
the overhead ratio (target: under 2% of a no-op task's cost). Async tasks are used because they
are the cheapest (no thread hop), so the ratio is the least flattering one. Nothing is asserted:
timings depend on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import bgmigrate
from bgmigrate import task
from bgmigrate.adapters.inprocess import InProcessBackend


@task
async def noop() -> None:
    """The cheapest task there is."""


def per_task_seconds(
    backend: InProcessBackend, runtime: bgmigrate.runtime.Runtime, n: int
) -> float:
    """Seconds per task for one batch of ``n`` no-op tasks, enqueue to last result."""
    jobs = [runtime.prepare(noop, (), {})[1] for _ in range(n)]
    started = time.perf_counter()
    handles = backend.enqueue(jobs)
    handles[-1].result(timeout=120)
    return (time.perf_counter() - started) / n


def main() -> None:
    """Measure and print the overhead ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    runtime = bgmigrate.configure(backend="inprocess")
    backend = runtime.backend("inprocess")
    assert isinstance(backend, InProcessBackend)
    recording = backend.stats.record

    def off(*_: Any, **__: Any) -> None:
        return None

    with_stats: list[float] = []
    without: list[float] = []
    per_task_seconds(backend, runtime, 1000)  # warm up the loop thread and caches
    for _ in range(args.rounds):
        backend.stats.record = recording  # type: ignore[method-assign]
        with_stats.append(per_task_seconds(backend, runtime, args.tasks))
        backend.stats.record = off  # type: ignore[method-assign]
        without.append(per_task_seconds(backend, runtime, args.tasks))
    on_us, off_us = statistics.median(with_stats) * 1e6, statistics.median(without) * 1e6
    print(f"no-op async task, in-process: {off_us:.2f} us without statistics")
    print(f"no-op async task, in-process: {on_us:.2f} us with statistics")
    print(f"statistics overhead: {(on_us - off_us) / off_us:+.1%} (target < 2%)")


if __name__ == "__main__":
    main()
