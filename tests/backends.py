"""Backends for testing the core's dispatch path through the ``module:Class`` plug-in point.

They stand in for a third-party adapter; the real Celery and ARQ adapters are tested against a
real Redis and real workers in ``tests/adapters``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from bgmigrate.backend import Capabilities, Job, TaskBackend, TaskHandle, TaskStatus
from bgmigrate.errors import EnqueueError

ALL = Capabilities(
    defer=True, result=False, retry=True, dedup=True, async_tasks=True, priority=True, timeout=True
)


class RecordingBackend(TaskBackend):
    """Accepts every batch and keeps it in ``batches`` (class-level: one per test process)."""

    alias = "recording"
    capabilities = ALL
    batches: ClassVar[list[list[Job]]] = []

    def enqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        type(self).batches.append(list(jobs))
        return [TaskHandle(job.id, self) for job in jobs]

    def status(self, job_id: str) -> TaskStatus:
        return TaskStatus.UNKNOWN

    def result(self, job_id: str, timeout: float | None) -> Any:
        raise NotImplementedError


class LifecycleBackend(RecordingBackend):
    """Records its start and close in ``events`` (class-level: one per test process)."""

    alias = "lifecycle"
    events: ClassVar[list[str]] = []

    async def start(self) -> None:
        type(self).events.append("start")

    async def close(self) -> None:
        type(self).events.append("close")


class DownBackend(RecordingBackend):
    """A broker that refuses every batch, as a stopped Redis would."""

    alias = "down"

    def enqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        raise EnqueueError("broker redis://:***@127.0.0.1:1/0 is unreachable")
