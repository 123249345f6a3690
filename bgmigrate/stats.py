"""Runtime evidence from the in-process backend: how long each task takes, how often it fails.

Memory is bounded per task name (fixed-bucket histograms, no lists of samples). The snapshot is
written atomically as JSON (``BGMIGRATE_STATS_PATH``) and read by ``bgmigrate scan --evidence``;
several files (one per web process) merge exactly.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from bgmigrate.histogram import Histogram

logger = logging.getLogger("bgmigrate.stats")

STATS_VERSION = 1


@dataclass
class TaskStats:
    """What one task name did: runs, failures by exception type, durations, queueing delay."""

    runs: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    retries: int = 0
    over_budget: int = 0
    duration: Histogram = field(default_factory=Histogram)
    queue_delay: Histogram = field(default_factory=Histogram)

    @property
    def failed(self) -> int:
        """Runs whose last attempt failed."""
        return sum(self.failures.values())

    def merge(self, other: TaskStats) -> None:
        """Add ``other``'s figures to these."""
        self.runs += other.runs
        self.retries += other.retries
        self.over_budget += other.over_budget
        for name, count in other.failures.items():
            self.failures[name] = self.failures.get(name, 0) + count
        self.duration.merge(other.duration)
        self.queue_delay.merge(other.queue_delay)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready figures."""
        return {
            "runs": self.runs,
            "failures": dict(sorted(self.failures.items())),
            "retries": self.retries,
            "over_budget": self.over_budget,
            "duration": self.duration.to_json(),
            "queue_delay": self.queue_delay.to_json(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TaskStats:
        """Rebuild figures written by :meth:`to_json`."""
        return cls(
            runs=int(data.get("runs", 0)),
            failures={str(k): int(v) for k, v in dict(data.get("failures", {})).items()},
            retries=int(data.get("retries", 0)),
            over_budget=int(data.get("over_budget", 0)),
            duration=Histogram.from_json(data.get("duration", {})),
            queue_delay=Histogram.from_json(data.get("queue_delay", {})),
        )


class RunObserver(Protocol):
    """Something told about every finished run (e.g. Prometheus metrics)."""

    def __call__(
        self,
        name: str,
        *,
        duration: float,
        queue_delay: float,
        attempts: int,
        error: BaseException | None,
    ) -> None:
        """Record one finished run of task ``name``."""


class StatsCollector:
    """Thread-safe per-task statistics, with rate-limited warnings about tasks that misbehave."""

    def __init__(
        self, *, budget: float, warn_interval: float, observers: Sequence[RunObserver] = ()
    ) -> None:
        self.budget = budget
        self.warn_interval = warn_interval
        self._observers = tuple(observers)
        self._lock = threading.Lock()
        self._tasks: dict[str, TaskStats] = {}
        self._last_warned: dict[str, float] = {}

    def record(
        self,
        name: str,
        *,
        duration: float,
        queue_delay: float,
        attempts: int,
        error: BaseException | None,
    ) -> None:
        """Record one finished run of task ``name`` (its last attempt's outcome)."""
        with self._lock:
            stats = self._tasks.get(name)
            if stats is None:
                stats = self._tasks[name] = TaskStats()
            stats.runs += 1
            stats.retries += attempts - 1
            stats.duration.add(duration)
            stats.queue_delay.add(queue_delay)
            if duration > self.budget:
                stats.over_budget += 1
            if error is not None:
                kind = type(error).__name__
                stats.failures[kind] = stats.failures.get(kind, 0) + 1
            message = (
                None
                if duration <= self.budget and error is None
                else self._warning(name, stats, duration, error)
            )
        if message:
            logger.warning(message)
        for observer in self._observers:
            observer(
                name, duration=duration, queue_delay=queue_delay, attempts=attempts, error=error
            )

    def _warning(
        self, name: str, stats: TaskStats, duration: float, error: BaseException | None
    ) -> str | None:
        now = time.monotonic()
        last = self._last_warned.get(name)
        if last is not None and now - last < self.warn_interval:
            return None
        self._last_warned[name] = now
        if duration > self.budget:
            what = (
                f"took {duration:.3g} s (budget {self.budget:g} s) in {stats.over_budget} of "
                f"{stats.runs} runs"
            )
        else:
            what = f"failed in {stats.failed} of {stats.runs} runs ({type(error).__name__})"
        return f"{name} {what}: move it to a queue (`bgmigrate scan` explains how)"

    def snapshot(self) -> dict[str, TaskStats]:
        """A copy of the figures so far, by task name."""
        with self._lock:
            return {
                name: TaskStats.from_json(stats.to_json()) for name, stats in self._tasks.items()
            }

    def to_json(self) -> dict[str, Any]:
        """The stats file's content."""
        return {
            "version": STATS_VERSION,
            "generated_at": datetime.now(UTC).isoformat(),
            "pid": os.getpid(),
            "budget_seconds": self.budget,
            "tasks": {name: stats.to_json() for name, stats in sorted(self.snapshot().items())},
        }

    def write(self, path: Path) -> None:
        """Write the stats file atomically (a temporary file renamed over the old one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(handle, "w") as file:
                json.dump(self.to_json(), file, indent=1)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def load_stats(paths: Iterable[Path]) -> dict[str, TaskStats]:
    """Merge stats files (e.g. one per web process) into figures by task name."""
    merged: dict[str, TaskStats] = {}
    for path in paths:
        data = json.loads(path.read_text())
        if data.get("version") != STATS_VERSION:
            raise ValueError(f"{path}: not a bgmigrate stats file (version {data.get('version')})")
        for name, figures in data.get("tasks", {}).items():
            merged.setdefault(name, TaskStats()).merge(TaskStats.from_json(figures))
    return merged


class StatsExporter:
    """Writes a collector's stats file every ``interval`` seconds on a daemon thread."""

    def __init__(self, collector: StatsCollector, path: Path, interval: float) -> None:
        self._collector = collector
        self._path = path
        self._interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the periodic writes (idempotent)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="bgmigrate-stats", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            self._write()

    def _write(self) -> None:
        try:
            self._collector.write(self._path)
        except OSError as exc:
            logger.error("cannot write stats file %s: %s", self._path, exc)

    def stop(self) -> None:
        """Stop the periodic writes and write the file one last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self._write()
