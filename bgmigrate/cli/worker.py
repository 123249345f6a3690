"""``bgmigrate worker``: start the Celery or ARQ worker with the task modules imported."""

from __future__ import annotations

import contextlib
import enum
import logging.config
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from bgmigrate.adapters.worker_options import WorkerOptions
from bgmigrate.adapters.worker_setup import worker_settings
from bgmigrate.errors import BgmigrateError, ConfigError, WorkerStartupError
from bgmigrate.registry import registry
from bgmigrate.settings import Settings, WorkerPool

logger = logging.getLogger("bgmigrate.worker")


class WorkerBackend(enum.StrEnum):
    """Backends that have workers."""

    celery = "celery"
    arq = "arq"


def _choose(backend: WorkerBackend | None, settings: Settings) -> WorkerBackend:
    if backend is not None:
        return backend
    try:
        return WorkerBackend(settings.backend)
    except ValueError:
        raise ConfigError(
            f"BGMIGRATE_BACKEND is {settings.backend!r}, which has no worker: "
            "pass --backend celery or --backend arq"
        ) from None


def _split(queues: list[str]) -> list[str]:
    return [name.strip() for item in queues for name in item.split(",") if name.strip()]


def _warn_unenforced_timeouts(pool: WorkerPool | None) -> None:
    """Celery enforces time limits in its prefork pool only: say which timeouts go unenforced."""
    if pool in (None, WorkerPool.prefork):
        return
    unenforced = sorted(t.name for t in registry if t.options.timeout and not t.is_async)
    if unenforced:
        logger.warning(
            "the %s pool does not enforce Celery time limits: the timeout= of these sync "
            "tasks is not applied (async tasks still time out): %s; use --pool prefork",
            pool,
            ", ".join(unenforced),
        )


def _run_celery(settings: Settings, options: WorkerOptions, queues: list[str], level: str) -> None:
    from celery.signals import worker_init

    from bgmigrate.adapters.celery.worker import build_worker_app

    argv = ["worker", "--loglevel", level, *options.celery_argv()]
    if queues:
        argv += ["--queues", ",".join(queues)]
    # worker_main() drops the worker's exit code: read it from the worker itself, so that one
    # that stopped on an "Unrecoverable error" exits non-zero (a supervisor that restarts on
    # failure would otherwise leave it down).
    workers: list[Any] = []
    worker_init.connect(lambda sender, **_: workers.append(sender), weak=False)
    app = build_worker_app(settings)
    _warn_unenforced_timeouts(options.pool)
    app.worker_main(argv)
    code = workers[-1].exitcode if workers else None
    if code:
        raise typer.Exit(code)


def _run_arq(settings: Settings, options: WorkerOptions, queues: list[str], level: str) -> None:
    from arq.logs import default_log_config

    from bgmigrate.adapters.arq.worker import make_worker

    if len(queues) > 1:
        raise ConfigError(
            "an arq worker consumes one queue: start one `bgmigrate worker --backend arq "
            "--queues NAME` per queue"
        )
    config = default_log_config(verbose=level == "DEBUG")
    config["loggers"]["bgmigrate"] = {"handlers": ["arq.standard"], "level": level}
    logging.config.dictConfig(config)
    queue = queues[0] if queues else None
    make_worker(settings, options=options, queue=queue).run()


def worker(
    backend: Annotated[
        WorkerBackend | None,
        typer.Option(help="Worker to start (default: BGMIGRATE_BACKEND)."),
    ] = None,
    pool: Annotated[
        WorkerPool | None,
        typer.Option(
            help="How tasks run side by side (default: BGMIGRATE_WORKER_POOL, else Celery's "
            "prefork). Celery: prefork (a process per slot; time limits and "
            "--max-tasks-per-child need it), threads, solo (one task at a time). ARQ runs "
            "threads (async jobs on its loop, sync ones in threads), solo means one job at a "
            "time, prefork is refused.",
        ),
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Tasks run at once (default: BGMIGRATE_WORKER_CONCURRENCY, else Celery's CPU "
            "count or ARQ's 10; ARQ's max_jobs).",
        ),
    ] = None,
    max_tasks_per_child: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Celery prefork: replace a child process after this many tasks, returning "
            "the memory a loaded model or a leak held (default: "
            "BGMIGRATE_WORKER_MAX_TASKS_PER_CHILD, else never). ARQ cannot: refused.",
        ),
    ] = None,
    queues: Annotated[
        list[str] | None,
        typer.Option(
            "--queues",
            "-Q",
            help="Queues to consume, comma-separated or repeated (ARQ: one). "
            "Default: BGMIGRATE_DEFAULT_QUEUE, else the backend's default queue.",
        ),
    ] = None,
    loglevel: Annotated[
        str, typer.Option(help="Log level: DEBUG, INFO, WARNING or ERROR.")
    ] = "INFO",
    relay: Annotated[
        bool,
        typer.Option(
            "--relay",
            help="Also run `bgmigrate relay` (outbox mode) beside the worker, in a child process "
            "stopped with it.",
        ),
    ] = False,
) -> None:
    """Start the Celery or ARQ worker for the tasks in BGMIGRATE_TASK_MODULES.

    The modules are imported from the working directory, PYTHONPATH and installed packages,
    as `celery -A` and `arq` do. Only registered tasks run: any other task name (Celery's
    built-in tasks included) is rejected and logged, never imported. Malformed messages are
    refused once and kept in the Redis list bgmigrate:dead-letter; the ARQ worker waits out
    a Redis outage.

    Exit codes: 0 after a normal shutdown, 1 when the worker stopped on an error, 2 for a
    configuration error.

    Configure it with the same BGMIGRATE_* variables as the application.
    BGMIGRATE_WORKER_LIFESPAN=app.main:app runs your app's lifespan (and its on_event
    start-up and shutdown handlers) in each worker process, so that tasks find what the
    app sets up (an ORM, a client); if it fails, the worker stops with exit code 1.

    Examples:

      export BGMIGRATE_TASK_MODULES=app.tasks
      bgmigrate worker --backend celery --concurrency 8
      bgmigrate worker --backend celery --concurrency 2 --max-tasks-per-child 50
      bgmigrate worker --backend arq --queues emails
      bgmigrate worker --backend arq --relay   # outbox mode: relay and worker together
    """
    # Like `celery -A` and `arq`: task modules are found from the directory the worker starts in.
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        settings = worker_settings()
        options = WorkerOptions.from_settings(
            settings, pool=pool, concurrency=concurrency, max_tasks_per_child=max_tasks_per_child
        )
        runner = _run_celery if _choose(backend, settings) is WorkerBackend.celery else _run_arq
        if relay and settings.outbox_url is None:
            raise ConfigError("--relay needs BGMIGRATE_OUTBOX_URL (postgresql://...)")
        with _relay_beside(relay, loglevel):
            runner(settings, options, _split(queues or []), loglevel.upper())
    except WorkerStartupError as exc:
        typer.secho(f"bgmigrate worker: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(1) from exc
    except BgmigrateError as exc:
        typer.secho(f"bgmigrate worker: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(2) from exc


@contextlib.contextmanager
def _relay_beside(enabled: bool, loglevel: str) -> Iterator[None]:
    """Run ``bgmigrate relay`` in a child process while the block runs.

    A process, not a thread: Celery's prefork pool forks the worker, and a forked copy of the
    relay's database connection would share its socket.
    """
    if not enabled:
        yield
        return
    argv = [sys.executable, "-c", _RELAY_MAIN, "relay", "--loglevel", loglevel]
    child = subprocess.Popen(argv)
    try:
        yield
    finally:
        child.terminate()
        try:
            child.wait(RELAY_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


_RELAY_MAIN = "import sys; from bgmigrate.cli import main; sys.argv[0] = 'bgmigrate'; main()"
RELAY_STOP_TIMEOUT = 10.0
"""Seconds the relay gets to finish its batch when the worker stops (then it is killed; its
batch is relayed again by the next relay, under the same job ids)."""
