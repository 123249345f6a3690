"""Retry policies: how often a failing task is attempted and how long to wait in between."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bgmigrate.errors import ConfigError


@dataclass(frozen=True)
class RetryPolicy:
    """Attempt a task up to ``max_attempts`` times, with exponential backoff between attempts.

    The wait after failed attempt ``n`` is ``min(max_delay, backoff * 2 ** (n - 1))``, shortened
    by a random fraction of at most ``jitter`` so that many failing tasks do not retry in step.
    Only exceptions that are instances of ``retry_on`` are retried.
    """

    max_attempts: int = 3
    """Total number of attempts, the first included (1 means no retry)."""
    backoff: float = 1.0
    """Seconds to wait after the first failure; doubles after each further failure."""
    max_delay: float = 300.0
    """Upper bound, in seconds, of any one wait."""
    jitter: float = 0.0
    """Fraction in [0, 1] by which each wait may be randomly shortened."""
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    """Exception types that are retried; any other exception fails the task at once."""

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ConfigError(f"RetryPolicy.max_attempts must be >= 1, got {self.max_attempts}")
        if self.backoff < 0 or self.max_delay < 0:
            raise ConfigError("RetryPolicy.backoff and max_delay must be >= 0 seconds")
        if not 0 <= self.jitter <= 1:
            raise ConfigError(f"RetryPolicy.jitter must be between 0 and 1, got {self.jitter}")

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        delay: float = min(self.max_delay, self.backoff * 2.0 ** (attempt - 1))
        return delay * (1 - self.jitter * random.random())

    def should_retry(self, exc: BaseException, attempt: int) -> bool:
        """Whether a task that raised ``exc`` on attempt ``attempt`` gets another attempt."""
        return attempt < self.max_attempts and isinstance(exc, self.retry_on)
