"""Per-task options: where, when and how a task runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bgmigrate.errors import ConfigError
from bgmigrate.retry import RetryPolicy
from bgmigrate.settings import check_backend


@dataclass(frozen=True, kw_only=True)
class TaskOptions:
    """Options set by ``@task(...)`` and ``Task.using(...)``; ``None`` means the default."""

    queue: str | None = None
    """Queue name on the broker (Celery queue, ARQ queue name)."""
    timeout: float | None = None
    """Seconds one attempt may run before it fails with ``TimeoutError``."""
    retry: RetryPolicy | None = None
    """How failed attempts are retried; ``None`` means one attempt."""
    delay: float | None = None
    """Seconds to wait before running the task."""
    run_after: datetime | None = None
    """Earliest time (timezone-aware) to run the task."""
    priority: int | None = None
    """Broker priority, 0 (lowest) to 9 (highest), where the backend supports it."""
    key: str | None = None
    """Idempotency key: one execution per key while its result is kept."""
    backend: str | None = None
    """Backend alias or ``module:Class`` for this task, overriding routes and the default."""

    def __post_init__(self) -> None:
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError(f"timeout must be > 0 seconds, got {self.timeout}")
        if self.delay is not None and self.delay < 0:
            raise ConfigError(f"delay must be >= 0 seconds, got {self.delay}")
        if self.delay is not None and self.run_after is not None:
            raise ConfigError("give either delay or run_after, not both")
        if self.run_after is not None and self.run_after.tzinfo is None:
            raise ConfigError("run_after must be timezone-aware (e.g. datetime.now(UTC))")
        if self.priority is not None and not 0 <= self.priority <= 9:
            raise ConfigError(f"priority must be between 0 and 9, got {self.priority}")
        if self.backend is not None:
            check_backend(self.backend, setting="backend")

    @property
    def deferred(self) -> bool:
        """Whether the task is to run later rather than as soon as possible."""
        return self.delay is not None or self.run_after is not None

    def seconds_until_due(self, now: datetime | None = None) -> float:
        """Seconds from ``now`` (default: the current time) until the task may start:
        ``delay``, or the time left until ``run_after`` (never negative), else ``0``."""
        if self.delay is not None:
            return self.delay
        if self.run_after is not None:
            return max(0.0, (self.run_after - (now or datetime.now(UTC))).total_seconds())
        return 0.0
