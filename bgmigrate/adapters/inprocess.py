"""The in-process backend: ``BackgroundTasks`` done right, in the web process.

Tasks a request adds run after its response, in order, as with ``BackgroundTasks``; but a
failing task is logged and the next ones still run, async tasks honour ``timeout``, every task
honours its ``RetryPolicy``, and shutdown drains pending tasks up to a deadline and logs each one
it drops by name.

Sync functions run where Starlette runs them: on AnyIO's worker threads, which end with the event
loop (or after idling), so nothing outlives an application that never ran ``bgmigrate.lifespan``.
A callable not registered with ``@task`` takes a token of AnyIO's default limiter, exactly as
``BackgroundTasks`` does; a ``@task`` function takes one of this backend's own limiter
(``BGMIGRATE_INPROCESS_WORKERS``), so slow tasks never starve sync endpoints.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

import anyio

from bgmigrate.adapters.attempts import in_worker_thread, retry_delay, run_attempt
from bgmigrate.adapters.inprocess_records import JobRecords
from bgmigrate.adapters.loop_thread import LoopThread
from bgmigrate.backend import Capabilities, Job, TaskBackend, TaskHandle, TaskStatus
from bgmigrate.codec import Payload, codec_for
from bgmigrate.errors import SerializationError
from bgmigrate.failed_jobs import (
    PAYLOAD_BYTES,
    FailedJob,
    akeep,
    describe_args,
    failed_job,
    keeps_failed_jobs,
)
from bgmigrate.prometheus import PrometheusObserver
from bgmigrate.registry import registry
from bgmigrate.settings import Settings
from bgmigrate.stats import StatsCollector, StatsExporter
from bgmigrate.tracing import NO_CARRIER, Attempt, Carrier, running, sending

if TYPE_CHECKING:
    from starlette.background import BackgroundTasks

logger = logging.getLogger("bgmigrate.inprocess")


class InProcessBackend(TaskBackend):
    """Runs tasks in this process: after the response for requests, on its own loop otherwise."""

    alias = "inprocess"
    encodes_arguments = False
    capabilities = Capabilities(
        defer=True,
        result=True,
        retry=True,
        dedup=True,
        async_tasks=True,
        priority=False,
        timeout=True,
    )

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # AnyIO limiters belong to one event loop: one per loop that runs this backend's tasks.
        self._limiters: WeakKeyDictionary[asyncio.AbstractEventLoop, anyio.CapacityLimiter] = (
            WeakKeyDictionary()
        )
        self._limiters_lock = threading.Lock()
        self._loop_thread = LoopThread("bgmigrate-inprocess-loop")
        self._records = JobRecords(key_ttl=settings.result_ttl)
        self._detached: set[asyncio.Task[None]] = set()
        self.stats = StatsCollector(
            budget=settings.inprocess_budget,
            warn_interval=settings.stats_warn_interval,
            observers=[PrometheusObserver()] if settings.prometheus else [],
        )
        self._exporter = (
            StatsExporter(self.stats, _stats_file(settings.stats_path), settings.stats_interval)
            if settings.stats_path is not None
            else None
        )
        atexit.register(self._report_unfinished, "the interpreter exited")

    # -- handing jobs over --------------------------------------------------------------

    async def dispatch_request(self, jobs: Sequence[Job], background: BackgroundTasks) -> None:
        """Run the request's jobs after its response, in order (as ``BackgroundTasks`` does)."""
        _, accepted, carriers = self._accept(jobs)
        if accepted:
            background.add_task(self._run_batch, accepted, carriers)

    def enqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        """Start the jobs now, in order, on the running loop or else on a private loop thread."""
        handles, accepted, carriers = self._accept(jobs)
        if accepted:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                self._loop_thread.submit(self._run_batch(accepted, carriers))
            else:
                self._detach(loop, accepted, carriers)
        return handles

    async def aenqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        """Start the jobs now, in order, on the running loop."""
        handles, accepted, carriers = self._accept(jobs)
        if accepted:
            self._detach(asyncio.get_running_loop(), accepted, carriers)
        return handles

    def _detach(
        self, loop: asyncio.AbstractEventLoop, jobs: list[Job], carriers: Mapping[str, Carrier]
    ) -> None:
        runner = loop.create_task(self._run_batch(jobs, carriers))
        self._detached.add(runner)
        runner.add_done_callback(self._detached.discard)

    def _accept(
        self, jobs: Sequence[Job]
    ) -> tuple[list[TaskHandle], list[Job], Mapping[str, Carrier]]:
        """Record the jobs as READY, each in its ``send`` span; a job whose key was seen gets
        the earlier job's handle. Returns the handles, the jobs to run and their carriers."""
        with sending(self.alias, jobs, _no_destination) as carriers:
            ids, accepted = self._records.accept(jobs)
        return [TaskHandle(job_id, self) for job_id in ids], accepted, carriers

    # -- running ------------------------------------------------------------------------

    async def _run_batch(self, jobs: list[Job], carriers: Mapping[str, Carrier]) -> None:
        """Run jobs one after another; a failure is logged and does not stop the next ones."""
        for index, job in enumerate(jobs):
            try:
                await self._run_job(job, carriers.get(job.id, NO_CARRIER))
            except asyncio.CancelledError:
                for dropped in jobs[index:]:
                    self._drop(dropped, "its run was cancelled")
                raise

    async def _run_job(self, job: Job, carrier: Carrier) -> None:
        deferred = job.task.options.seconds_until_due()
        if deferred:
            await asyncio.sleep(deferred)
        attempt = 1
        while True:
            parent = self.settings.trace_parent
            with running(
                self.alias, job.task.name, job.id, carrier, attempt=attempt, parent=parent
            ) as run:
                delay = await self._try(job, attempt, deferred, run)
            if delay is None:
                return
            self._records.set_status(job.id, TaskStatus.READY)
            attempt += 1
            await asyncio.sleep(delay)

    async def _try(self, job: Job, attempt: int, deferred: float, run: Attempt) -> float | None:
        """Run attempt ``attempt``; the seconds before the next one, or ``None`` when done."""
        try:
            result = await self._attempt(job)
        except Exception as exc:
            run.failed(exc)
            delay = retry_delay(job.task, exc, attempt)
            if delay is None:
                self._observe(job, deferred, attempt, exc)
                self._records.finish(job.id, TaskStatus.FAILED, error=exc)
                _log_failure(job, attempt, exc)
                if keeps_failed_jobs(self.settings, self.alias):
                    await akeep(self.settings, self._failed_job(job, attempt, exc))
            return delay
        self._observe(job, deferred, attempt, None)
        self._records.finish(job.id, TaskStatus.SUCCESSFUL, result=result)
        return None

    def _observe(self, job: Job, deferred: float, attempts: int, error: Exception | None) -> None:
        record = self._records.get(job.id)
        if record is None:  # already reported as dropped
            return
        now = time.monotonic()
        started = now if record.started_at is None else record.started_at
        self.stats.record(
            job.task.name,
            duration=now - started,
            # Time spent waiting behind other tasks (and for the response), not the asked delay.
            queue_delay=max(0.0, started - record.accepted_at - deferred),
            attempts=attempts,
            error=error,
        )

    def _failed_job(self, job: Job, attempts: int, exc: Exception) -> FailedJob:
        record = self._records.get(job.id)
        age = None if record is None else time.monotonic() - record.accepted_at
        enqueued_at = None if age is None else time.time() - age
        call, payload = (job.args, job.kwargs), _payload(job)
        return failed_job(
            job.id, job.task.name, self.alias, call, exc, attempts, payload, enqueued_at
        )

    async def _attempt(self, job: Job) -> Any:
        # RUNNING once the attempt starts: for a sync task, once a worker thread picks it up.
        return await run_attempt(
            job.task,
            job.args,
            job.kwargs,
            in_worker_thread(self._limiter_for(job)),
            on_start=functools.partial(self._records.set_status, job.id, TaskStatus.RUNNING),
        )

    def _limiter_for(self, job: Job) -> anyio.CapacityLimiter | None:
        """This backend's limiter for ``@task`` functions; ``None`` (AnyIO's default, as
        Starlette's ``run_in_threadpool``) for callables that are not registered."""
        if registry.for_callable(job.task.func) is None:
            return None
        loop = asyncio.get_running_loop()
        with self._limiters_lock:
            limiter = self._limiters.get(loop)
            if limiter is None:
                limiter = anyio.CapacityLimiter(self.settings.inprocess_workers)
                self._limiters[loop] = limiter
            return limiter

    # -- records ------------------------------------------------------------------------

    def _drop(self, job: Job, reason: str) -> None:
        if self._records.finish(job.id, TaskStatus.FAILED, error=asyncio.CancelledError()):
            _log_dropped(job, reason)

    def status(self, job_id: str) -> TaskStatus:
        """READY, RUNNING, SUCCESSFUL or FAILED for jobs this process ran, else UNKNOWN."""
        record = self._records.get(job_id)
        return TaskStatus.UNKNOWN if record is None else record.status

    def result(self, job_id: str, timeout: float | None) -> Any:
        """Wait for the job; return its result or re-raise its exception.

        On a running event loop it refuses to wait (``RuntimeError``): blocking the loop would
        stop the very task it waits for when that task runs on the same loop.
        """
        record = self._records.known(job_id)
        if not record.status.finished and _on_event_loop():
            raise RuntimeError(
                f"handle.result() called on a running event loop while task {record.name} "
                f"({job_id}) is unfinished: it would block the loop the task may need; "
                "use `await handle.aresult()` in async code"
            )
        if not self._records.wait(record, timeout):
            raise TimeoutError(f"task {record.name} ({job_id}) not finished in {timeout} s")
        return record.outcome()

    async def aresult(self, job_id: str, timeout: float | None) -> Any:
        """Async form of :meth:`result` (polls, so it never blocks the loop)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        record = self._records.known(job_id)
        while not record.status.finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"task {record.name} ({job_id}) not finished in {timeout} s")
            await asyncio.sleep(0.01)
        return record.outcome()

    # -- shutdown -----------------------------------------------------------------------

    async def start(self) -> None:
        """Start writing the statistics file, if ``BGMIGRATE_STATS_PATH`` is set."""
        if self._exporter is not None:
            self._exporter.start()

    async def close(self) -> None:
        """Wait up to ``drain_timeout`` for pending tasks; log each one dropped, by name."""
        deadline = time.monotonic() + self.settings.drain_timeout
        while not self._records.idle.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for runner in list(self._detached):
            runner.cancel()
        await asyncio.gather(*self._detached, return_exceptions=True)
        self._loop_thread.stop()
        self._report_unfinished(f"the drain deadline of {self.settings.drain_timeout:g} s passed")
        atexit.unregister(self._report_unfinished)
        if self._exporter is not None:
            self._exporter.stop()

    def _report_unfinished(self, reason: str) -> None:
        for record in self._records.unfinished():
            if record.job is not None:
                self._drop(record.job, reason)


def _stats_file(path: Path) -> Path:
    """``path`` with ``{pid}`` replaced: web servers fork several processes from one setting."""
    return Path(str(path).replace("{pid}", str(os.getpid())))


def _no_destination(job: Job) -> None:
    """In-process jobs go to no queue."""


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _describe_args(job: Job) -> str:
    return describe_args(job.args, job.kwargs)


def _payload(job: Job) -> Payload | None:
    """The job's arguments as JSON, to retry it with; ``None`` if they cannot be encoded."""
    if job.task.name not in registry:
        return None
    try:
        return codec_for(job.task.func, job.task.name).encode(
            job.args, job.kwargs, max_bytes=PAYLOAD_BYTES
        )
    except SerializationError:
        return None


def _log_failure(job: Job, attempts: int, exc: BaseException) -> None:
    logger.error(
        "task %s(%s) failed after %d attempt(s): %r",
        job.task.name,
        _describe_args(job),
        attempts,
        exc,
        exc_info=exc,
    )


def _log_dropped(job: Job, reason: str) -> None:
    logger.error(
        "task %s(%s) [%s] was dropped before it finished: %s",
        job.task.name,
        _describe_args(job),
        job.id,
        reason,
    )
