"""Jobs on their way to a backend, their status, and the handle callers keep."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bgmigrate.backend import TaskBackend
    from bgmigrate.codec import Payload
    from bgmigrate.task import Task


class TaskStatus(enum.StrEnum):
    """Where a task is in its life, as far as its backend can tell."""

    READY = "READY"
    """Accepted by the backend and waiting to run (or to be retried)."""
    RUNNING = "RUNNING"
    """An attempt is running now."""
    SUCCESSFUL = "SUCCESSFUL"
    """Finished without error; its result is kept where the backend keeps results."""
    FAILED = "FAILED"
    """Failed on its last attempt (or timed out)."""
    UNKNOWN = "UNKNOWN"
    """The backend has no record of this id (never seen, or its record expired)."""

    @property
    def finished(self) -> bool:
        """Whether the task will not change status any more."""
        return self in (TaskStatus.SUCCESSFUL, TaskStatus.FAILED)


def new_job_id() -> str:
    """A fresh, globally unique job id."""
    return uuid.uuid4().hex


@dataclass(frozen=True, kw_only=True, eq=False)
class Job:
    """One call of a task, validated and ready for its backend."""

    task: Task[Any, Any]
    """The task to run, with the options it was enqueued with."""
    args: tuple[Any, ...]
    """Positional arguments as given (live objects, used by the in-process backend)."""
    kwargs: Mapping[str, Any]
    """Keyword arguments as given."""
    payload: Payload | None = None
    """The arguments encoded as JSON, for backends that send them to another process."""
    id: str = field(default_factory=new_job_id)
    """The job's id, which its ``TaskHandle`` carries."""


@dataclass(frozen=True, eq=False)
class TaskHandle:
    """A reference to an enqueued task: ask its status, wait for its result."""

    id: str
    """The job id on the backend."""
    backend: TaskBackend
    """The backend the task was sent to."""

    def __repr__(self) -> str:
        return f"<TaskHandle {self.id} on {self.backend.alias}>"

    def status(self) -> TaskStatus:
        """The task's current status."""
        return self.backend.status(self.id)

    async def astatus(self) -> TaskStatus:
        """Async form of :meth:`status`."""
        return await self.backend.astatus(self.id)

    def result(self, timeout: float | None = None) -> Any:
        """Wait up to ``timeout`` seconds for the result; re-raise the task's error if it failed.

        Raises ``TimeoutError`` if the task has not finished in time.
        """
        return self.backend.result(self.id, timeout)

    async def aresult(self, timeout: float | None = None) -> Any:
        """Async form of :meth:`result`."""
        return await self.backend.aresult(self.id, timeout)
