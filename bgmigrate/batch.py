"""``Tasks``: the per-request replacement for a ``BackgroundTasks`` parameter.

A :class:`RequestBatch` is the tasks one request adds, not a broker queue (that is the
``queue`` task option).
"""

from __future__ import annotations

import dataclasses
import hashlib
import inspect
import itertools
import operator
from collections.abc import AsyncIterator, Callable
from importlib.metadata import version
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec

from fastapi import BackgroundTasks, Depends, Request
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from bgmigrate.backend import Job, TaskBackend
from bgmigrate.errors import EnqueueError, UnsupportedOption
from bgmigrate.http_errors import enqueue_refused
from bgmigrate.runtime import Runtime, get_runtime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession
    from sqlalchemy.orm import Session

    from bgmigrate.after_commit import Held, TransactionWatch

P = ParamSpec("P")

IDEMPOTENCY_HEADER = "Idempotency-Key"
"""Request header whose value makes a retried request's queued tasks run once (see
:func:`request_job_key`)."""


class RequestBatch:
    """The tasks one request adds, dispatched together when its handler returns.

    ``add_task`` has ``BackgroundTasks.add_task``'s signature and meaning: tasks run in the
    order added, and nothing is dispatched if the handler raises. Arguments are checked at the
    ``add_task`` line. After :meth:`after_commit`, queued tasks added inside a transaction
    wait for it to commit.
    """

    def __init__(self, runtime: Runtime | None = None, *, request_key: str | None = None) -> None:
        self._runtime = runtime or get_runtime()
        self._batches: dict[TaskBackend, list[Job]] = {}
        self._request_key = request_key
        self._watch: TransactionWatch | None = None
        self._released = 0  # jobs the watch handed to the spool (they keep their index)

    def after_commit(self, session: Session | AsyncSession) -> None:
        """Publish the queued tasks added from now on while ``session`` has a transaction open
        when that transaction commits; drop them (logged by name) if it rolls back.

        ``session`` is a SQLAlchemy ``Session`` or ``AsyncSession`` (SQLModel's too). Tasks
        added with no transaction open are dispatched when the handler returns, as before.
        A task published after the response cannot turn it into a ``503``: if the broker
        refuses it, the runtime's spool retries it in the background, then logs it (see
        :mod:`bgmigrate.spool`).
        """
        from bgmigrate.after_commit import TransactionWatch, sync_session

        plain = sync_session(session)
        if self._watch is not None:
            if self._watch.session is plain:
                return
            raise ValueError(
                "tasks.after_commit() was already called with another session in this "
                "request: bind the one session whose commit the tasks depend on"
            )
        self._watch = TransactionWatch(plain, self._release)

    def _release(self, held: Held) -> None:
        """Hand jobs whose transaction committed to the spool, one entry per backend run."""
        self._released += len(held)
        for backend, run in itertools.groupby(held, key=operator.itemgetter(0)):
            self._runtime.spool.put(backend, [job for _, job in run])

    def add_task(self, func: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
        """Add ``func(*args, **kwargs)`` to this request's tasks.

        A function registered with ``@task`` goes to its backend; any other callable runs in
        this process after the response, exactly as with ``BackgroundTasks``.
        """
        backend, job = self._runtime.prepare(func, args, kwargs, caller_depth=2)
        if self._request_key is not None and backend.encodes_arguments:
            job = _keyed(backend, job, request_job_key(self._request_key, len(self), job))
        if self._watch is None or not self._watch.hold(backend, job):
            self._batches.setdefault(backend, []).append(job)

    def __len__(self) -> int:
        held = len(self._watch) if self._watch is not None else 0
        return sum(len(jobs) for jobs in self._batches.values()) + held + self._released

    def __bool__(self) -> bool:
        # Always true, as a BackgroundTasks object is: apps test ``if background_tasks:`` to mean
        # "was one passed", and an empty batch must not turn that test false after a rewrite.
        return True

    async def dispatch(self, background: BackgroundTasks) -> None:
        """Hand every backend its jobs, queue backends first, in the order they were added.

        Queue backends enqueue now, their jobs' files stored first (off the event loop);
        in-process jobs are attached to ``background``, so they only run if the queue backends
        accepted theirs and the response is sent.
        """
        batches = sorted(self._batches.items(), key=lambda item: not item[0].encodes_arguments)
        self._batches = {}
        if self._watch is not None and len(self._watch) == 0:
            # Nothing is waiting for a commit: stop watching now. (With jobs held, the watch
            # stays on the session until it is discarded: SQLAlchemy cannot remove a listener
            # from inside the commit event that releases them.)
            self._watch.close()
            self._watch = None
        for backend, jobs in batches:
            with await self._runtime.adeliver(jobs):
                await backend.dispatch_request(jobs, background)


def request_job_key(request_key: str, index: int, job: Job) -> str:
    """The idempotency key of the ``index``-th task a request with ``request_key`` adds: the
    same on every retry of that request, different for every other request and task."""
    digest = hashlib.sha256(f"{request_key}\n{index}\n{job.task.name}".encode()).hexdigest()
    return f"request:{digest[:32]}"


def _keyed(backend: TaskBackend, job: Job, key: str) -> Job:
    """``job`` with idempotency key ``key``, unless it has its own or ``backend`` keeps none."""
    if job.task.options.key is not None or not backend.capabilities.dedup:
        return job
    options = dataclasses.replace(job.task.options, key=key)
    task = dataclasses.replace(job.task, options=options)
    try:
        backend.validate_task(task)
    except UnsupportedOption:  # Celery keeps keys in Redis: none with RabbitMQ and no result store
        return job
    return dataclasses.replace(job, task=task)


async def get_request_batch(
    background_tasks: BackgroundTasks, request: Request
) -> AsyncIterator[RequestBatch]:
    """FastAPI dependency: one ``RequestBatch`` per request, dispatched when the handler returns.

    Its exit code runs after the handler and before the response is sent (see
    :func:`dispatch_depends`): a broker failure becomes a ``503`` response, never a ``2xx`` for
    tasks that were not enqueued (the details go to the log, not to the client: see
    :mod:`bgmigrate.http_errors`). With an ``Idempotency-Key`` header, each queued task gets a
    key derived from it, so that the client's retry of a refused request does not run again
    the tasks an earlier backend had accepted.
    """
    batch = RequestBatch(request_key=request.headers.get(IDEMPOTENCY_HEADER))
    yield batch
    try:
        await batch.dispatch(background_tasks)
    except EnqueueError as exc:
        raise enqueue_refused(request, exc) from exc


SUPPORTED_FASTAPI = ">=0.106,!=0.118.*,!=0.119.*,!=0.120.*"
"""The FastAPI releases that run a yield dependency's exit code before sending the response."""


def dispatch_depends(fastapi_version: str, depends_takes_scope: bool) -> Any:
    """``Depends(get_request_batch)`` with an exit that runs before the response is sent.

    FastAPI 0.121 added ``scope="function"`` for that. From 0.106 to 0.117 every yield
    dependency exits there. Before 0.106, and from 0.118 to 0.120, the exit code runs after the
    response (and after its background tasks), where a broker failure could no longer become a
    ``503``: those releases are refused at import rather than silently answering ``2xx``.
    """
    if depends_takes_scope:
        return Depends(get_request_batch, scope="function")
    if Version(fastapi_version) not in SpecifierSet(SUPPORTED_FASTAPI):
        raise ImportError(
            f"bgmigrate needs FastAPI {SUPPORTED_FASTAPI} (installed: {fastapi_version}): "
            "FastAPI runs a dependency's exit code after the response in this release, too late "
            "to answer 503 when a broker refuses a request's tasks; upgrade to fastapi>=0.121"
        )
    return Depends(get_request_batch)


Tasks = Annotated[
    RequestBatch,
    dispatch_depends(version("fastapi"), "scope" in inspect.signature(Depends).parameters),
]
"""Use ``tasks: Tasks`` where you had ``background_tasks: BackgroundTasks``."""

TaskQueue = RequestBatch
"""The former name of :class:`RequestBatch`, which ``bgmigrate rewrite`` used to write: code
rewritten then keeps working."""
