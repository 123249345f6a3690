"""bgmigrate: move FastAPI BackgroundTasks onto real job queues (Celery, ARQ).

Decorate task functions with :func:`task`, take ``tasks: Tasks`` where endpoints took
``background_tasks: BackgroundTasks``, and choose the backend with ``BGMIGRATE_BACKEND``.
"""

from __future__ import annotations

from bgmigrate.backend import Capabilities, TaskBackend
from bgmigrate.config import Settings
from bgmigrate.jobs import TaskHandle, TaskStatus
from bgmigrate.options import TaskOptions
from bgmigrate.queue import TaskQueue, Tasks, get_task_queue
from bgmigrate.retry import RetryPolicy
from bgmigrate.runtime import configure, get_runtime, lifespan
from bgmigrate.task import Task, task

__version__ = "0.1.0"

__all__ = [
    "Capabilities",
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
    "get_runtime",
    "get_task_queue",
    "lifespan",
    "task",
]
