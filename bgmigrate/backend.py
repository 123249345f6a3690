"""What an adapter implements and returns, and how a backend is chosen by name.

A backend subclasses :class:`TaskBackend`, declares its :class:`Capabilities`, receives
:class:`Job` objects and returns :class:`TaskHandle` objects whose :class:`TaskStatus` it reports.
"""

from __future__ import annotations

import abc
import enum
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import anyio.to_thread

from bgmigrate.errors import ConfigError, UnsupportedOption
from bgmigrate.imports import import_object
from bgmigrate.settings import BACKEND_ALIASES, Settings

if TYPE_CHECKING:
    from starlette.background import BackgroundTasks

    from bgmigrate.blobs.claim import Outgoing
    from bgmigrate.codec import EncodedCall, Payload
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
    encoded: EncodedCall | None = None
    """The same, still as JSON text, when the job arrives encoded (from the outbox) and
    ``payload`` is ``None``: a backend writes it into its message as it is."""
    blobs: tuple[Outgoing, ...] = ()
    """Files to put in the blob store before the job is handed over (the payload carries
    their references)."""
    id: str = field(default_factory=new_job_id)
    """The job's id, which its ``TaskHandle`` carries."""
    publish_id: str | None = None
    """Set by the outbox relay, new each time it publishes the job: a Celery worker runs one
    publication of a job id and drops the others (a relay that died before deleting its rows
    publishes them again). ARQ needs none: it keeps one job per id."""

    def decoded_payload(self) -> Payload:
        """``payload`` (decoded from ``encoded`` if it is ``None``); empty when neither is set."""
        if self.payload is not None:
            return self.payload
        if self.encoded is not None:
            return self.encoded.decoded()
        return {"args": [], "kwargs": {}}


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

        Raises ``TimeoutError`` if the task has not finished in time, and ``UnknownJobError``
        (a ``LookupError``) if the backend has no record of this id.
        """
        return self.backend.result(self.id, timeout)

    async def aresult(self, timeout: float | None = None) -> Any:
        """Async form of :meth:`result`."""
        return await self.backend.aresult(self.id, timeout)


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

    def relay(self, jobs: Sequence[Job]) -> None:
        """Hand over jobs from the outbox relay, in order, or raise ``EnqueueError``.

        Unlike :meth:`enqueue`, a failure may leave some of them accepted: the relay then hands
        the batch over again under the same job ids (and new publication ids), which a backend
        runs once. This default calls :meth:`enqueue`; a backend overrides it where a batch
        handed over in parts costs less.
        """
        self.enqueue(jobs)

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
        """The status of job ``job_id`` (``UNKNOWN`` if never seen); ``StatusError`` if it
        cannot be read."""

    async def astatus(self, job_id: str) -> TaskStatus:
        """Async form of :meth:`status`."""
        return await anyio.to_thread.run_sync(self.status, job_id)

    @abc.abstractmethod
    def result(self, job_id: str, timeout: float | None) -> Any:
        """Wait for job ``job_id`` and return its result (see ``TaskHandle.result``);
        ``UnknownJobError`` if the backend never saw it, ``StatusError`` if it cannot be read."""

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
