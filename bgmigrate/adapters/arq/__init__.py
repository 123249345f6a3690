"""The ARQ adapter: the backend (:mod:`.backend`), arq's job layout (:mod:`.wire`) and the worker.

The worker: ``arq bgmigrate.adapters.arq.WorkerSettings`` (or ``bgmigrate worker --backend arq``).
``WorkerSettings`` is built on first access, from ``BGMIGRATE_*`` settings and the tasks that
``TASK_MODULES`` register, so importing this package has no side effects.
"""

from __future__ import annotations

from typing import Any

from bgmigrate.adapters.arq.backend import ArqBackend

__all__ = ["ArqBackend"]


def __getattr__(name: str) -> Any:
    # ``arq bgmigrate.adapters.arq.WorkerSettings`` looks the attribute up here: build it then.
    if name == "WorkerSettings":
        from bgmigrate.adapters.arq.worker import build_worker_settings

        return build_worker_settings()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
