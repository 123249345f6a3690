"""The Celery worker side: every registered task as a Celery task under its bgmigrate name.

``celery -A bgmigrate.adapters.celery:app worker`` loads the app built here. Arguments arrive
as JSON and are decoded with the task's type hints; coroutines run on the worker process's
own long-lived loop; ``timeout`` maps to Celery's soft and hard time limits; an exception is
retried when the task's ``RetryPolicy`` allows another attempt. A call's own timeout and
retry policy (``Task.using``) arrive in the message and win over the registered ones. A
message naming a task that is not registered (Celery's built-in tasks included) or with
malformed headers is rejected, logged and dead-lettered (:mod:`.consumer`), and the name is
never imported.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
from typing import Any

import redis
from celery import Celery
from celery import Task as CeleryTask
from celery.concurrency.solo import TaskPool as SoloPool
from celery.exceptions import Ignore, SoftTimeLimitExceeded
from celery.platforms import EX_FAILURE
from celery.signals import (
    task_unknown,
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from celery.worker import state as worker_state

from bgmigrate.adapters.attempts import retry_delay, timed_out
from bgmigrate.adapters.call_options import FIELD, with_call_options
from bgmigrate.adapters.celery import loop as celery_loop
from bgmigrate.adapters.celery.app_factory import make_app
from bgmigrate.adapters.celery.once import ONCE, once_store_url, runs_publication
from bgmigrate.adapters.redelivery import time_limits, warn_if_redelivered
from bgmigrate.adapters.results import encode_result
from bgmigrate.adapters.worker_lifespan import worker_lifespan
from bgmigrate.adapters.worker_setup import worker_settings
from bgmigrate.blobs.redeem import Claim
from bgmigrate.blobs.stores import configured_store
from bgmigrate.codec import codec_for
from bgmigrate.errors import WorkerStartupError
from bgmigrate.failed_jobs import failed_job, keep
from bgmigrate.registry import registry
from bgmigrate.settings import Settings
from bgmigrate.task import Task
from bgmigrate.tracing import Attempt, celery_instrumented, extract_fields, running

logger = logging.getLogger("bgmigrate.celery")

CONSUMER = "bgmigrate.adapters.celery.consumer:Consumer"
"""Celery's consumer behind a check of each message (see :mod:`.consumer`)."""


def _call(task: Task[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    timeout = task.options.timeout
    try:
        if task.is_async:
            return celery_loop.run(asyncio.wait_for(task.func(*args, **kwargs), timeout))
        return task.func(*args, **kwargs)
    except (TimeoutError, SoftTimeLimitExceeded) as exc:
        if timeout is None:
            raise
        raise timed_out(task) from exc
    except WorkerStartupError as exc:  # the threads pool enters it on each thread's first task
        _stop_worker(exc)
        raise


def register(app: Celery, task: Task[Any, Any], settings: Settings) -> None:
    """Register ``task`` on ``app`` as a Celery task named ``task.name`` (larger arguments than
    ``settings.max_payload_bytes`` fail it; a job that fails for good is kept as failed, its
    files in the blob store until their TTL; one that succeeds deletes them)."""
    codec, max_payload_bytes = codec_for(task.func, task.name), settings.max_payload_bytes
    store = configured_store(settings)

    def run(self: CeleryTask, *args: Any, **kwargs: Any) -> Any:
        if _published_before(self.request, kwargs, settings):
            raise Ignore()  # acknowledged, and the first publication's state left as it is
        called, kwargs = with_call_options(task, kwargs)
        attempt = self.request.retries + 1
        with _attempt_span(self.request, task, attempt, settings) as attempt_span:
            call_args, call_kwargs = codec.decode(
                {"args": list(args), "kwargs": kwargs}, max_bytes=max_payload_bytes
            )
            claim = Claim(store, codec.signature, codec.files, (call_args, call_kwargs))
            try:
                with claim as (with_files, with_file_kwargs):
                    value = _call(called, with_files, with_file_kwargs)
            except Exception as exc:
                attempt_span.failed(exc)
                delay = retry_delay(called, exc, attempt=attempt)
                if delay is None:
                    call = (call_args, call_kwargs)
                    payload = {"args": list(args), "kwargs": kwargs}
                    record = failed_job(
                        self.request.id, task.name, "celery", call, exc, attempt, payload
                    )
                    keep(settings, record)
                    raise
                raise self.retry(exc=exc, countdown=delay) from exc
            claim.release()
        return encode_result(task.func, value)

    run.__qualname__ = run.__name__ = task.name.rpartition(".")[2]
    run.__doc__ = task.func.__doc__
    # max_retries=None: the retry policy bounds attempts (Celery's default, 3, would cut a
    # policy of more than 4 attempts short; retry(max_retries=None) means that default).
    app.task(run, bind=True, name=task.name, typing=False, max_retries=None, **time_limits(task))


@functools.cache
def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=10)


def _published_before(request: Any, kwargs: dict[str, Any], settings: Settings) -> bool:
    """Whether this message is another publication of a job the outbox relay already
    published (see :mod:`.once`); a Redis failure errs on the side of running it."""
    publish_id = (kwargs.get(FIELD) or {}).get(ONCE)
    url = once_store_url(settings)
    if publish_id is None or request.retries or url is None:
        return False
    try:
        if runs_publication(_redis(url), request.id, publish_id, settings.result_ttl):
            return False
    except (redis.RedisError, OSError) as exc:
        logger.warning("job %s: cannot check for a second publication (%r): run", request.id, exc)
        return False
    logger.warning(
        "job %s (%s) was published again by the outbox relay: this copy is not run",
        request.id,
        request.task,
    )
    return True


def _attempt_span(request: Any, task: Task[Any, Any], attempt: int, settings: Settings) -> Attempt:
    """The attempt's span, related to the enqueue span whose context the message headers carry
    (none where OpenTelemetry's Celery instrumentation makes its own)."""
    queue = (request.delivery_info or {}).get("routing_key")
    return running(
        "celery",
        task.name,
        request.id,
        extract_fields(lambda name: getattr(request, name, None)),
        attempt=attempt,
        destination=queue if isinstance(queue, str) else None,
        parent=settings.trace_parent,
        traced=not celery_instrumented(),
    )


def _log_unknown(name: str | None = None, id: str | None = None, **_: Any) -> None:
    logger.error(
        "rejected task %r (id %s): it is not registered by BGMIGRATE_TASK_MODULES; "
        "the message was discarded and the name was not imported",
        name,
        id,
    )


_main_pid = os.getpid()  # the worker's main process (this module is imported there)


def _stop_worker(exc: WorkerStartupError) -> None:
    """Stop the whole worker (exit code 1) rather than fail every task: in the main process as
    Celery's own shutdown signal handlers do, from a pool child by SIGQUIT (cold shutdown)."""
    logger.critical("%s", exc, exc_info=exc.__cause__)
    if os.getpid() == _main_pid:
        worker_state.should_stop = EX_FAILURE
    else:
        os.kill(_main_pid, signal.SIGQUIT)


def _start_loop(**_: Any) -> None:
    """Create this process's loop and enter the application's lifespan on it."""
    try:
        celery_loop.start()
    except WorkerStartupError as exc:
        _stop_worker(exc)


def _start_solo_loop(sender: Any = None, **_: Any) -> None:
    """The solo pool runs tasks in the main process: its lifespan starts with the worker."""
    if isinstance(getattr(sender, "pool", None), SoloPool):
        _start_loop()


def _close_loop(**_: Any) -> None:
    celery_loop.close()


def build_worker_app(settings: Settings | None = None) -> Celery:
    """The worker's Celery app: settings read and task modules imported when not given."""
    settings = settings or worker_settings()
    app = make_app(settings, main="bgmigrate-worker")
    app.conf.worker_consumer = CONSUMER
    for task in registry:
        register(app, task, settings)
    warn_if_redelivered(settings, registry)
    celery_loop.use_lifespan(worker_lifespan(settings))
    task_unknown.connect(_log_unknown, weak=False)
    worker_process_init.connect(_start_loop, weak=False)  # each prefork child
    worker_ready.connect(_start_solo_loop, weak=False)
    worker_process_shutdown.connect(_close_loop, weak=False)
    worker_shutdown.connect(_close_loop, weak=False)
    return app
