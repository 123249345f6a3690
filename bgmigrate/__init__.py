"""bgmigrate: move FastAPI BackgroundTasks onto real job queues (Celery, ARQ).

Decorate task functions with :func:`task`, take ``tasks: Tasks`` where endpoints took
``background_tasks: BackgroundTasks``, and choose the backend with ``BGMIGRATE_BACKEND``.
"""

from __future__ import annotations

from bgmigrate.backend import Capabilities, TaskBackend, TaskHandle, TaskStatus
from bgmigrate.batch import RequestBatch, TaskQueue, Tasks, get_request_batch
from bgmigrate.retry import RetryPolicy
from bgmigrate.runtime import configure, get_runtime, lifespan
from bgmigrate.settings import Settings
from bgmigrate.task import Task, task
from bgmigrate.task_options import TaskOptions

__version__ = "0.1.0"

__all__ = [
    "Capabilities",
    "RequestBatch",
    "RetryPolicy",
    "Settings",
    "Task",
    "TaskBackend",
    "TaskHandle",
    "TaskOptions",
    "TaskQueue",
    "TaskStatus",
    "Tasks",
    "__version__",
    "configure",
    "get_request_batch",
    "get_runtime",
    "lifespan",
    "task",
]
