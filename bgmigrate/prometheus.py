"""Prometheus metrics for in-process tasks (the ``prometheus`` extra).

Metrics are registered on ``prometheus_client``'s default registry; expose them the usual way,
e.g. ``app.mount("/metrics", prometheus_client.make_asgi_app())``.
"""

from __future__ import annotations

import functools
from typing import Any

from bgmigrate.errors import ConfigError


class PrometheusObserver:
    """Feeds every finished in-process task run into Prometheus counters and histograms."""

    def __init__(self) -> None:
        self._metrics = _metrics()

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
        runs, retries, durations, delays = self._metrics
        runs.labels(task=name, outcome="failure" if error else "success").inc()
        if attempts > 1:
            retries.labels(task=name).inc(attempts - 1)
        durations.labels(task=name).observe(duration)
        delays.labels(task=name).observe(queue_delay)


@functools.cache
def _metrics() -> tuple[Any, Any, Any, Any]:
    # Created once per process: prometheus_client refuses to register a name twice.
    try:
        from prometheus_client import Counter, Histogram
    except ImportError as exc:
        raise ConfigError(
            "BGMIGRATE_PROMETHEUS needs prometheus-client: pip install 'bgmigrate[prometheus]'"
        ) from exc
    return (
        Counter("bgmigrate_task_runs", "Finished in-process task runs.", ["task", "outcome"]),
        Counter("bgmigrate_task_retries", "Retried attempts of in-process tasks.", ["task"]),
        Histogram("bgmigrate_task_duration_seconds", "Run time of in-process tasks.", ["task"]),
        Histogram(
            "bgmigrate_task_queue_delay_seconds",
            "Time in-process tasks waited before starting.",
            ["task"],
        ),
    )
