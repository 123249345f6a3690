"""Exceptions raised by bgmigrate.

Every error bgmigrate raises derives from :class:`BgmigrateError`, which is never raised
directly. Errors from Redis, kombu, Celery, arq or libcst are caught where bgmigrate calls
them and re-raised as one of these types ``from`` the original::

    BgmigrateError
    ├── ConfigError          a setting or task definition is invalid (raised at start-up/import)
    ├── SerializationError   an argument cannot be carried to a worker
    ├── UnknownTaskError     a task name is not registered (also a ``LookupError``)
    ├── UnknownJobError      a job id is not known to its backend (also a ``LookupError``)
    ├── EnqueueError         the broker did not accept a task: nothing was enqueued
    ├── StatusError          a task's status or result could not be read from its backend
    ├── BlobError            a file travelling with its job could not be stored or fetched
    │   └── MissingBlobError a job's file is not in the blob store (also a ``LookupError``)
    ├── UnsupportedOption    a backend cannot honour a task option
    ├── WorkerStartupError   the application's lifespan failed to start in a worker
    └── TaskFailed           a task failed on a worker (``TaskHandle.result`` raises it)

Warnings: :class:`ReadinessWarning` (a call a queue backend would reject; in-process only).
"""

from __future__ import annotations


class BgmigrateError(Exception):
    """Base class of every bgmigrate error; catch this to catch them all."""


class ConfigError(BgmigrateError):
    """A setting, route or task definition is invalid; the message lists the valid choices."""


class SerializationError(BgmigrateError, TypeError):
    """An argument cannot be validated or encoded for a worker; the message names the fix."""


class UnknownTaskError(BgmigrateError, LookupError):
    """A task name is not in the registry (workers reject such messages, never import them)."""


class UnknownJobError(BgmigrateError, LookupError):
    """``TaskHandle.result()`` for an id its backend never saw, or whose record expired."""


class EnqueueError(BgmigrateError):
    """The backend did not durably accept a task; in a request this becomes a ``503``."""


class StatusError(BgmigrateError):
    """A task's status or result could not be read: the broker or result store is unreachable."""


class BlobError(BgmigrateError):
    """A file travelling with its job could not be stored in, or fetched from, the blob store
    (``BGMIGRATE_BLOB_STORE``); at enqueue time it becomes an ``EnqueueError`` (a ``503``)."""


class MissingBlobError(BlobError, LookupError):
    """A worker found no blob under a job's reference: it expired (``BGMIGRATE_BLOB_TTL``),
    was deleted after an earlier success, or web and worker use different blob stores."""


class UnsupportedOption(BgmigrateError):
    """A task option that the selected backend cannot honour (checked at decoration/enqueue)."""


class ReadinessWarning(UserWarning):
    """A task call that works in-process but that a queue backend would reject.

    Emitted at the ``add_task``/``enqueue`` line with the in-process backend, so that problems
    show up before the switch; ``STRICT=true`` (or a queue backend) makes them errors.
    """


class WorkerStartupError(BgmigrateError):
    """The application's lifespan (``BGMIGRATE_WORKER_LIFESPAN``) failed in a worker, which
    stops; the message names the setting and the original error."""


class TaskFailed(BgmigrateError):
    """A task failed on a worker; raised by ``TaskHandle.result()`` of a queue backend.

    The worker's exception is not rebuilt (that would import a class named in a message):
    :attr:`exc_type` names it (``"builtins.ValueError"``) and the message carries its text.
    """

    def __init__(self, message: str, *, exc_type: str) -> None:
        super().__init__(message)
        self.exc_type = exc_type
        """Import path of the exception class the task raised."""
