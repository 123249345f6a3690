"""What every worker does first: read settings and import ``TASK_MODULES`` to fill the registry.

A worker only runs tasks registered by the modules it imported here; a message naming any
other task is rejected and logged, and its name is never imported.
"""

from __future__ import annotations

import importlib
import logging

from bgmigrate.errors import ConfigError
from bgmigrate.registry import registry
from bgmigrate.settings import Settings, load_settings

logger = logging.getLogger("bgmigrate.worker")


def import_task_modules(settings: Settings) -> None:
    """Import every module in ``settings.task_modules``; ``ConfigError`` names one that fails."""
    for module in settings.task_modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            raise ConfigError(
                f"BGMIGRATE_TASK_MODULES: cannot import {module!r} ({exc}); check the name and "
                "that the worker runs where your code is importable (working directory, PYTHONPATH)"
            ) from exc
    if not len(registry):
        raise ConfigError(
            "no tasks are registered: set BGMIGRATE_TASK_MODULES to the modules that define "
            "your @task functions, e.g. BGMIGRATE_TASK_MODULES=app.tasks"
        )


def worker_settings() -> Settings:
    """Settings for a worker process, with its task modules imported."""
    settings = load_settings()
    import_task_modules(settings)
    logger.info("registered tasks: %s", ", ".join(sorted(task.name for task in registry)))
    return settings
