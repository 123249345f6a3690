"""The Celery adapter: the backend (:mod:`.backend`) and the worker's ``app`` (:mod:`.worker`).

The worker: ``celery -A bgmigrate.adapters.celery:app worker`` (or ``bgmigrate worker``);
``app`` is built on first access from ``BGMIGRATE_*`` settings and ``TASK_MODULES``, so that
importing this package has no side effects.
"""

from __future__ import annotations

from typing import Any

from bgmigrate.adapters.celery.backend import CeleryBackend

__all__ = ["CeleryBackend"]


def __getattr__(name: str) -> Any:
    # ``celery -A bgmigrate.adapters.celery:app`` looks the attribute up here: build it then.
    if name == "app":
        from bgmigrate.adapters.celery.worker import build_worker_app

        return build_worker_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
