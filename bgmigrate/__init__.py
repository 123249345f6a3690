"""bgmigrate: move FastAPI BackgroundTasks onto real job queues (Celery, ARQ).

Decorate task functions with :func:`task`, take ``tasks: Tasks`` where endpoints took
``background_tasks: BackgroundTasks``, and choose the backend with ``BGMIGRATE_BACKEND``.
"""

from __future__ import annotations

from bgmigrate.backend import Capabilities, Job, TaskBackend, TaskHandle, TaskStatus
from bgmigrate.batch import RequestBatch, TaskQueue, Tasks, get_request_batch
from bgmigrate.blobs.claim import BlobRef, LocalFile
from bgmigrate.errors import (
    BgmigrateError,
    BlobError,
    ConfigError,
    EnqueueError,
    MissingBlobError,
    ReadinessWarning,
    SerializationError,
    StatusError,
    TaskFailed,
    UnknownJobError,
    UnknownTaskError,
    UnsupportedOption,
    WorkerStartupError,
)
from bgmigrate.failed_jobs import FailedJob, FailedJobs, failed_jobs
from bgmigrate.job_logs import JobLogFilter
from bgmigrate.retry import RetryPolicy
from bgmigrate.runtime import configure, get_runtime, lifespan, shutdown, startup
from bgmigrate.settings import Settings
from bgmigrate.task import Task, task
from bgmigrate.task_options import TaskOptions

__version__ = "0.1.0"

__all__ = [
    "BgmigrateError",
    "BlobError",
    "BlobRef",
    "Capabilities",
    "ConfigError",
    "EnqueueError",
    "FailedJob",
    "FailedJobs",
    "Job",
    "JobLogFilter",
    "LocalFile",
    "MissingBlobError",
    "ReadinessWarning",
    "RequestBatch",
    "RetryPolicy",
    "SerializationError",
    "Settings",
    "StatusError",
    "Task",
    "TaskBackend",
    "TaskFailed",
    "TaskHandle",
    "TaskOptions",
    "TaskQueue",
    "TaskStatus",
    "Tasks",
    "UnknownJobError",
    "UnknownTaskError",
    "UnsupportedOption",
    "WorkerStartupError",
    "__version__",
    "configure",
    "failed_jobs",
    "get_request_batch",
    "get_runtime",
    "lifespan",
    "shutdown",
    "startup",
    "task",
]
