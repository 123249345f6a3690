"""The protocol every backend implements, and how a backend is chosen by name."""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import anyio.to_thread

from bgmigrate.config import BACKEND_ALIASES, Settings
from bgmigrate.errors import ConfigError, UnsupportedOption
from bgmigrate.imports import import_object
from bgmigrate.jobs import Job, TaskHandle, TaskStatus

if TYPE_CHECKING:
    from starlette.background import BackgroundTasks

    from bgmigrate.task import Task


@dataclass(frozen=True, kw_only=True)
class Capabilities:
    """What a backend can do; a task option it cannot honour fails early, never silently."""

    defer: bool
    """Runs a task later (``delay``, ``run_after``)."""
    result: bool
    """Keeps status and results that ``TaskHandle`` can read."""
    retry: bool
    """Retries failed attempts per ``RetryPolicy``."""
    dedup: bool
    """Runs one execution per idempotency ``key``."""
    async_tasks: bool
    """Runs ``async def`` tasks."""
    priority: bool
    """Orders waiting tasks by ``priority``."""
    timeout: bool
    """Stops an attempt that runs longer than ``timeout``."""


# Task option -> the capability it needs.
_OPTION_NEEDS = {
    "delay": "defer",
    "run_after": "defer",
    "retry": "retry",
    "key": "dedup",
    "priority": "priority",
    "timeout": "timeout",
}


class TaskBackend(abc.ABC):
    """Runs jobs somewhere: in this process, or on a queue that workers consume.

    Subclasses implement :meth:`enqueue`, :meth:`status` and :meth:`result`; the async forms
    default to running the sync ones in a worker thread, and backends with a native async client
    override them.
    """

    alias: ClassVar[str]
    """Short name used in settings and handles (``inprocess``, ``celery``, ``arq``)."""
    capabilities: ClassVar[Capabilities]
    """What this backend can do."""
    encodes_arguments: ClassVar[bool] = True
    """Whether arguments are encoded to JSON at enqueue time (``False`` keeps live objects)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.alias}>"

    def validate_task(self, task: Task[Any, Any]) -> None:
        """Raise ``UnsupportedOption`` if ``task`` needs something this backend cannot do."""
        if task.is_async and not self.capabilities.async_tasks:
            raise UnsupportedOption(f"backend {self.alias!r} cannot run async task {task.name!r}")
        for option, needed in _OPTION_NEEDS.items():
            value = getattr(task.options, option)
            if value is not None and not getattr(self.capabilities, needed):
                raise UnsupportedOption(
                    f"task {task.name!r} sets {option}=, which backend "
                    f"{self.alias!r} does not support; remove it or route the task to a "
                    "backend that does"
                )

    async def start(self) -> None:  # noqa: B027 - optional hook
        """Open connections and pools (called once, from the application's lifespan)."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Finish or report pending work and release connections."""

    @abc.abstractmethod
    def enqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        """Durably hand ``jobs`` over, in order, or raise ``EnqueueError`` (none accepted)."""

    async def aenqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        """Async form of :meth:`enqueue`."""
        return await anyio.to_thread.run_sync(self.enqueue, jobs)

    async def dispatch_request(self, jobs: Sequence[Job], background: BackgroundTasks) -> None:
        """Hand over the jobs a request added, when its handler has returned.

        ``background`` is the request's Starlette ``BackgroundTasks``, which runs after the
        response; queue backends ignore it and enqueue now, so that a ``2xx`` response means
        the tasks are durably enqueued.
        """
        await self.aenqueue(jobs)

    @abc.abstractmethod
    def status(self, job_id: str) -> TaskStatus:
        """The status of job ``job_id``."""

    async def astatus(self, job_id: str) -> TaskStatus:
        """Async form of :meth:`status`."""
        return await anyio.to_thread.run_sync(self.status, job_id)

    @abc.abstractmethod
    def result(self, job_id: str, timeout: float | None) -> Any:
        """Wait for job ``job_id`` and return its result (see ``TaskHandle.result``)."""

    async def aresult(self, job_id: str, timeout: float | None) -> Any:
        """Async form of :meth:`result`."""
        return await anyio.to_thread.run_sync(self.result, job_id, timeout)


_CHOICES = (
    f"valid choices: {', '.join(BACKEND_ALIASES)}, or 'module:Class' of a TaskBackend subclass"
)


def backend_class(name: str) -> type[TaskBackend]:
    """The backend class for an alias or ``module:Class`` path; ``ConfigError`` otherwise."""
    path = BACKEND_ALIASES.get(name, name)
    try:
        cls = import_object(path, setting="backend")
    except ConfigError as exc:
        if name in BACKEND_ALIASES:
            raise ConfigError(
                f"backend {name!r} needs its extra: pip install 'bgmigrate[{name}]' ({exc})"
            ) from exc
        raise ConfigError(f"{exc}; {_CHOICES}") from exc
    if not (isinstance(cls, type) and issubclass(cls, TaskBackend)):
        raise ConfigError(f"backend {name!r} is not a TaskBackend subclass; {_CHOICES}")
    return cls
