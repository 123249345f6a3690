"""The ARQ worker side: ``WorkerSettings`` built from bgmigrate's settings and registry.

Every registered task becomes an arq function under its bgmigrate name. Arguments arrive as
JSON and are decoded with the task's type hints; sync functions run in a bounded thread pool;
``timeout`` is enforced per attempt; and an ordinary exception becomes an arq ``Retry`` when
the task's ``RetryPolicy`` allows another attempt (arq itself only retries on ``Retry``). A
call's own timeout and retry policy (``Task.using``) arrive in the job and win over the
registered ones.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import sys
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

import redis
from arq.connections import RedisSettings
from arq.constants import default_queue_name, in_progress_key_prefix
from arq.worker import Function, Retry, Worker, func, get_kwargs

from bgmigrate.adapters.arq.resilient import ResilientWorker
from bgmigrate.adapters.arq.wire import dumps, load_job
from bgmigrate.adapters.attempts import SyncRunner, in_executor, retry_delay, run_attempt
from bgmigrate.adapters.call_options import with_call_options
from bgmigrate.adapters.results import encode_result
from bgmigrate.adapters.worker_lifespan import WorkerLifespan, worker_lifespan
from bgmigrate.adapters.worker_options import WorkerOptions
from bgmigrate.adapters.worker_setup import worker_settings
from bgmigrate.blobs.redeem import Claim
from bgmigrate.blobs.stores import configured_store
from bgmigrate.codec import Payload, codec_for
from bgmigrate.failed_jobs import Call, FailedJob, akeep, failed_job
from bgmigrate.registry import registry
from bgmigrate.settings import Settings
from bgmigrate.task import Task
from bgmigrate.tracing import pop_carrier, running

SPARE_TRIES = 2
"""Tries beyond the retry policy's attempts: arq re-runs a job whose attempt was cancelled by
a worker shutdown, and that re-run must not be refused as exceeding the tries."""
ARQ_MAX_TRIES = sys.maxsize
"""arq's own bound on a job's tries, left open: a call may carry a policy with more attempts
than the registered one, so the job function bounds each job by its own policy."""
_EXECUTOR = "bgmigrate_executor"
_LIFESPAN = "bgmigrate_lifespan"

logger = logging.getLogger("bgmigrate.arq")


async def _renew(ctx: dict[Any, Any], seconds: float) -> None:
    key, client = in_progress_key_prefix + ctx["job_id"], ctx["redis"]
    while True:
        try:
            await client.pexpire(key, math.ceil(seconds * 1000))
        except (redis.RedisError, OSError) as exc:
            logger.warning("could not renew the in-progress mark of job %s: %r", ctx["job_id"], exc)
        await asyncio.sleep(seconds / 3)


@asynccontextmanager
async def _in_progress(ctx: dict[Any, Any], seconds: float | None) -> AsyncIterator[None]:
    """Hold the running job's in-progress mark to ``seconds`` from now, renewed every third of
    it: if this worker dies, the job runs again that soon, and a long job is never taken for
    dead. ``None`` leaves arq's mark (the longest task timeout + 10 s) as it is."""
    if seconds is None:
        yield
        return
    renewer = asyncio.create_task(_renew(ctx, seconds))
    try:
        yield
    finally:
        renewer.cancel()


def job_function(task: Task[Any, Any], settings: Settings, queue: str) -> Function:
    """The arq function that runs ``task`` from a JSON job taken from ``queue`` (larger
    arguments than ``settings.max_payload_bytes`` fail it; a job that fails for good is kept as
    failed, its files in the blob store until their TTL; one that succeeds deletes them)."""
    codec, max_payload_bytes = codec_for(task.func, task.name), settings.max_payload_bytes
    in_progress = settings.in_progress_timeout
    store = configured_store(settings)

    async def run(ctx: dict[Any, Any], *args: Any, **kwargs: Any) -> Any:
        called, kwargs = with_call_options(task, kwargs)
        carrier = pop_carrier(kwargs)
        _check_tries(called, ctx["job_try"])
        with running(
            "arq",
            task.name,
            ctx["job_id"],
            carrier,
            attempt=ctx["job_try"],
            destination=queue,
            parent=settings.trace_parent,
        ) as attempt:
            call_args, call_kwargs = codec.decode(
                {"args": list(args), "kwargs": kwargs}, max_bytes=max_payload_bytes
            )
            claim = Claim(store, codec.signature, codec.files, (call_args, call_kwargs))
            run_sync = in_executor(ctx[_EXECUTOR])
            try:
                async with _in_progress(ctx, in_progress):
                    value = await _attempt(called, claim, run_sync)
            except Exception as exc:
                attempt.failed(exc)
                delay = retry_delay(called, exc, attempt=ctx["job_try"])
                if delay is None:
                    payload = {"args": list(args), "kwargs": kwargs}
                    await akeep(
                        settings, _failed_job(ctx, task, (call_args, call_kwargs), exc, payload)
                    )
                    raise
                raise Retry(defer=delay) from exc
            if claim.has_files:
                await run_sync(claim.release)
        return encode_result(task.func, value)

    # arq's own timeout is a backstop a little beyond ours, so that ours (retryable) fires first.
    timeout = None if task.options.timeout is None else task.options.timeout + 5
    return func(run, name=task.name, timeout=timeout, max_tries=ARQ_MAX_TRIES)


async def _attempt(task: Task[Any, Any], claim: Claim, run_sync: SyncRunner) -> Any:
    """One attempt of ``task`` with the files of its call fetched (and their local copies
    removed after it) on the job's thread pool."""
    if not claim.has_files:
        args, kwargs = claim.open()
        return await run_attempt(task, args, kwargs, run_sync)
    args, kwargs = await run_sync(claim.open)
    try:
        return await run_attempt(task, args, kwargs, run_sync)
    finally:
        await run_sync(claim.close)


def _failed_job(
    ctx: dict[Any, Any], task: Task[Any, Any], call: Call, exc: Exception, payload: Payload
) -> FailedJob:
    enqueued_at = ctx["enqueue_time"].timestamp()
    return failed_job(
        ctx["job_id"], task.name, "arq", call, exc, ctx["job_try"], payload, enqueued_at
    )


def _check_tries(task: Task[Any, Any], job_try: int) -> None:
    """Fail a job tried more often than its policy's attempts and the spare re-runs allow
    (one that keeps killing its worker, say)."""
    tries = (task.options.retry.max_attempts if task.options.retry else 1) + SPARE_TRIES
    if job_try > tries:
        raise RuntimeError(f"task {task.name}: max {tries} tries exceeded (try {job_try})")


async def _startup(
    ctx: dict[Any, Any], *, threads: int, lifespan: WorkerLifespan | None = None
) -> None:
    ctx[_EXECUTOR] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bgmigrate-arq")
    if lifespan is not None:
        await lifespan.start()
        ctx[_LIFESPAN] = lifespan


async def _shutdown(ctx: dict[Any, Any]) -> None:
    lifespan = ctx.pop(_LIFESPAN, None)
    if lifespan is not None:
        await lifespan.stop()
    executor = ctx.pop(_EXECUTOR, None)
    if executor is not None:
        executor.shutdown(wait=True)


def build_worker_settings(
    settings: Settings | None = None,
    *,
    options: WorkerOptions | None = None,
    queue: str | None = None,
) -> type:
    """A ``WorkerSettings`` class for arq from ``settings`` (read, and task modules imported,
    when not given) and the pool ``options`` (default: those of the settings); a pool option
    ARQ cannot honour is a ``ConfigError``."""
    settings = settings or worker_settings()
    max_jobs = (options or WorkerOptions.from_settings(settings)).arq_max_jobs()
    queue = queue or settings.default_queue or default_queue_name
    attributes: dict[str, Any] = {
        "__doc__": "arq WorkerSettings built by bgmigrate from BGMIGRATE_* settings.",
        "functions": [job_function(task, settings, queue) for task in registry],
        "queue_name": queue,
        "redis_settings": RedisSettings.from_dsn(settings.broker_url),
        "job_serializer": dumps,
        "job_deserializer": load_job,
        "max_jobs": max_jobs,
        "keep_result": settings.result_ttl,
        "on_startup": functools.partial(
            _startup, threads=max_jobs, lifespan=worker_lifespan(settings)
        ),
        "on_shutdown": _shutdown,
        # SIGTERM: stop taking jobs, let running ones finish this long, then cancel them (arq
        # puts a cancelled job back in the queue).
        "job_completion_wait": math.ceil(settings.drain_timeout),
    }
    return type("WorkerSettings", (), attributes)


def make_worker(
    settings: Settings, *, options: WorkerOptions | None = None, queue: str | None = None
) -> Worker:
    """The arq ``Worker`` that ``bgmigrate worker`` runs.

    Unlike the native ``arq`` command, it also marks each job it picks up as in progress for
    ``IN_PROGRESS_TIMEOUT`` only (arq's own mark lasts the longest task timeout + 10 s), so a
    job that a killed worker had picked up but not yet started runs again that soon too; and
    it refuses malformed jobs and rides out Redis outages (see
    :mod:`bgmigrate.adapters.arq.resilient`).
    """
    worker_class = build_worker_settings(settings, options=options, queue=queue)
    worker = ResilientWorker(**get_kwargs(worker_class))
    if settings.in_progress_timeout is not None:
        worker.in_progress_timeout_s = settings.in_progress_timeout
    return worker
