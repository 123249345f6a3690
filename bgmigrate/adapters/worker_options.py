"""How a worker runs tasks side by side: pool, concurrency, recycling, for Celery and ARQ.

``bgmigrate worker --pool/--concurrency/--max-tasks-per-child`` (or ``BGMIGRATE_WORKER_*``)
become Celery's ``--pool``, ``--concurrency`` and ``--max-tasks-per-child``. ARQ runs every
job of a worker in one process (async jobs on its event loop, sync ones in a thread pool of
``max_jobs`` threads), so it honours ``threads`` (what it does), ``solo`` (one job at a time)
and the concurrency, and refuses ``prefork`` and ``max_tasks_per_child`` with the way to get
the same effect, rather than ignore them.
"""

from __future__ import annotations

from dataclasses import dataclass

from bgmigrate.errors import ConfigError
from bgmigrate.settings import Settings, WorkerPool

ARQ_DEFAULT_CONCURRENCY = 10
"""arq's own default for ``max_jobs``."""


@dataclass(frozen=True, kw_only=True)
class WorkerOptions:
    """The pool options of one worker; ``None`` leaves the backend's default."""

    pool: WorkerPool | None = None
    concurrency: int | None = None
    """Tasks run at once (Celery: pool processes or threads; ARQ: ``max_jobs``)."""
    max_tasks_per_child: int | None = None
    """Celery prefork: tasks a child process runs before it is replaced."""

    def __post_init__(self) -> None:
        if self.pool is WorkerPool.solo and (self.concurrency or 1) > 1:
            raise ConfigError(
                f"the solo pool runs one task at a time, not {self.concurrency}: "
                "drop the concurrency, or choose --pool prefork or threads"
            )
        if self.max_tasks_per_child is not None and self.pool not in (None, WorkerPool.prefork):
            raise ConfigError(
                "max tasks per child replaces prefork child processes; the "
                f"{self.pool} pool has none: choose --pool prefork"
            )

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        pool: WorkerPool | None = None,
        concurrency: int | None = None,
        max_tasks_per_child: int | None = None,
    ) -> WorkerOptions:
        """The options given on the command line, else those of ``BGMIGRATE_WORKER_*``."""
        return cls(
            pool=pool or settings.worker_pool,
            concurrency=concurrency or settings.worker_concurrency,
            max_tasks_per_child=max_tasks_per_child or settings.worker_max_tasks_per_child,
        )

    def celery_argv(self) -> list[str]:
        """Celery worker arguments for these options."""
        argv = []
        if self.pool is not None:
            argv += ["--pool", str(self.pool)]
        if self.concurrency is not None:
            argv += ["--concurrency", str(self.concurrency)]
        if self.max_tasks_per_child is not None:
            argv += ["--max-tasks-per-child", str(self.max_tasks_per_child)]
        return argv

    def arq_max_jobs(self) -> int:
        """ARQ's ``max_jobs`` for these options; ``ConfigError`` for what ARQ cannot honour."""
        if self.pool is WorkerPool.prefork:
            raise ConfigError(
                "ARQ runs all jobs of a worker in one process (async ones on its event loop, "
                "sync ones in threads): it has no prefork pool. Use --pool threads (its own "
                "model), or start several `bgmigrate worker --backend arq` processes"
            )
        if self.max_tasks_per_child is not None:
            raise ConfigError(
                "ARQ cannot replace its process after a number of tasks (max tasks per child): "
                "let your process manager restart the worker (e.g. on a memory limit), or use "
                "Celery's prefork pool"
            )
        if self.pool is WorkerPool.solo:
            return 1
        return self.concurrency or ARQ_DEFAULT_CONCURRENCY
