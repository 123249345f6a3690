"""The process-wide runtime: settings, the backends they select, and routing tasks to them."""

from __future__ import annotations

import threading
import warnings
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread

from bgmigrate.backend import Job, TaskBackend, TaskHandle, backend_class
from bgmigrate.blobs.claim import ClaimPolicy, Delivery, Outgoing
from bgmigrate.blobs.stores import BlobStore, configured_store
from bgmigrate.codec import Payload, codec_for
from bgmigrate.errors import ReadinessWarning, SerializationError, UnknownTaskError
from bgmigrate.portability import callable_kind
from bgmigrate.registry import registry
from bgmigrate.settings import Settings, load_settings
from bgmigrate.spool import Spool
from bgmigrate.task import AsyncTask, Task, is_async_callable
from bgmigrate.urls import is_redis_url

INPROCESS = "inprocess"


class Runtime:
    """Settings plus the backends they name, created on first use and started by ``lifespan``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._backends: dict[str, TaskBackend] = {}
        # Sync endpoints run on many threads: two first requests must not build two backends.
        self._backends_lock = threading.Lock()
        self._warned_unregistered: set[str] = set()
        self.spool = Spool(
            max_jobs=settings.after_commit_spool_max,
            retry_for=settings.after_commit_retry_timeout,
        )
        """Where ``tasks.after_commit`` puts the tasks whose transaction committed."""
        self._claim_policy = ClaimPolicy(
            store=settings.blob_store,
            inline_bytes=settings.blob_inline_bytes,
            max_bytes=settings.blob_redis_max_bytes if is_redis_url(settings.blob_store) else None,
        )

    def backend(self, name: str) -> TaskBackend:
        """The backend for an alias or ``module:Class`` path, created once."""
        with self._backends_lock:
            backend = self._backends.get(name)
            if backend is None:
                backend = backend_class(name)(self.settings)
                self._backends[name] = backend
            return backend

    def backend_for(self, task: Task[Any, Any]) -> TaskBackend:
        """The backend ``task`` runs on: its own ``backend=``, else the routes, else the default."""
        return self.backend(task.options.backend or self.settings.route(task.name))

    def validate_task(self, task: Task[Any, Any]) -> None:
        """Raise ``UnsupportedOption`` if the task's backend cannot honour its options."""
        self.backend_for(task).validate_task(task)

    def register(self, task: Task[Any, Any]) -> None:
        """Validate ``task`` for its backend and add it to the process-wide registry."""
        self.validate_task(task)
        registry.register(task)

    def blob_store(self) -> BlobStore | None:
        """The store that files travelling with their job go to (``None`` when unset)."""
        return configured_store(self.settings)

    def deliver(self, jobs: Sequence[Job]) -> Delivery:
        """Store the files of ``jobs`` (blocking I/O); enter the result around their hand-over.

        ``EnqueueError`` if the blob store fails: the jobs must not be handed over.
        """
        store = self.blob_store() if any(job.blobs for job in jobs) else None
        return Delivery(store, jobs).store()

    async def adeliver(self, jobs: Sequence[Job]) -> Delivery:
        """Async form of :meth:`deliver` (on a worker thread only when there are files)."""
        if not any(job.blobs for job in jobs):
            return Delivery(None, jobs)
        return await anyio.to_thread.run_sync(self.deliver, jobs)

    async def start(self) -> None:
        """Create and start the default backend and every routed one (fails fast on bad config)."""
        self.blob_store()
        for name in {self.settings.backend, *self.settings.routes.values()}:
            self.backend(name)
        for backend in list(self._backends.values()):
            await backend.start()

    async def close(self) -> None:
        """Publish what the after-commit spool holds (up to ``drain_timeout`` seconds), then
        close every backend created so far (the in-process one drains its pending tasks).

        The runtime forgets them, so that the next start (a second ``TestClient`` lifespan in
        one test run, say) builds fresh ones.
        """
        await anyio.to_thread.run_sync(self.spool.drain, self.settings.drain_timeout)
        with self._backends_lock:
            closing = list(self._backends.values())
            self._backends.clear()
        for backend in closing:
            await backend.close()

    def prepare(
        self,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        *,
        caller_depth: int = 1,
    ) -> tuple[TaskBackend, Job]:
        """Pick the backend for a call and validate (and, for queues, encode) its arguments.

        Warnings point ``caller_depth`` frames above this method: at the user's ``add_task``
        or ``enqueue`` line.
        """
        stacklevel = caller_depth + 2  # + the warning helper and this method
        task = func if isinstance(func, Task) else registry.for_callable(func)
        if task is None:
            return self.backend(INPROCESS), Job(
                task=self._unregistered(func, stacklevel), args=args, kwargs=kwargs
            )
        backend = self.backend_for(task)
        backend.validate_task(task)
        if backend.encodes_arguments:
            payload, outgoing = self._encode(task, args, kwargs)
            return backend, Job(
                task=task, args=args, kwargs=kwargs, payload=payload, blobs=tuple(outgoing)
            )
        self._check_readiness(task, args, kwargs, stacklevel)
        return backend, Job(task=task, args=args, kwargs=kwargs)

    def enqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskHandle:
        """Validate a call and hand it to its backend now (its files to the blob store first)."""
        backend, job = self.prepare(task, args, kwargs, caller_depth=3)
        with self.deliver([job]):
            return backend.enqueue([job])[0]

    async def aenqueue(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> TaskHandle:
        """Async form of :meth:`enqueue`."""
        backend, job = self.prepare(task, args, kwargs, caller_depth=3)
        with await self.adeliver([job]):
            return (await backend.aenqueue([job]))[0]

    def _encode(
        self, task: Task[Any, Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]
    ) -> tuple[Payload, list[Outgoing]]:
        codec = codec_for(task.func, task.name)
        args, kwargs, outgoing = codec.check_out(args, kwargs, self._claim_policy)
        return codec.encode(args, kwargs, max_bytes=self.settings.max_payload_bytes), outgoing

    def _check_readiness(
        self,
        task: Task[Any, Any],
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        stacklevel: int,
    ) -> None:
        try:
            self._encode(task, args, kwargs)
        except SerializationError as exc:
            if self.settings.strict:
                raise
            warnings.warn(
                f"{exc} (this runs in-process today; a queue backend would reject it)",
                ReadinessWarning,
                stacklevel=stacklevel,
            )

    def _unregistered(self, func: Callable[..., Any], stacklevel: int) -> Task[Any, Any]:
        name = _describe_callable(func)
        if self.settings.strict or (
            self.settings.backend != INPROCESS and name not in self._warned_unregistered
        ):
            kind = callable_kind(func)
            why = f"a {kind} cannot be registered" if kind and kind != "function" else ""
            message = (
                f"{name} is not registered with @task, so it runs in this process after the "
                f"response{' (' + why + ')' if why else ''}; decorate a module-level function "
                "with @task to send it to the queue"
            )
            if self.settings.strict:
                raise UnknownTaskError(message + " (BGMIGRATE_STRICT is on)")
            self._warned_unregistered.add(name)
            warnings.warn(message, ReadinessWarning, stacklevel=stacklevel)
        cls = AsyncTask if is_async_callable(func) else Task
        return cls(func=func, name=name)


def _describe_callable(func: Callable[..., Any]) -> str:
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return repr(func)


_current: Runtime | None = None


def get_runtime() -> Runtime:
    """The process-wide runtime, configured from the environment on first use."""
    global _current
    if _current is None:
        _current = Runtime(load_settings())
    return _current


def configure(**overrides: Any) -> Runtime:
    """Replace the process-wide runtime with one built from the environment plus ``overrides``.

    Call it before the application starts (tests use it to switch backends).
    """
    global _current
    _current = Runtime(load_settings(**overrides))
    return _current


@asynccontextmanager
async def lifespan(app: object | None = None) -> AsyncIterator[None]:
    """Start the configured backends, and drain and close them on shutdown.

    Use it as FastAPI's lifespan (``FastAPI(lifespan=bgmigrate.lifespan)``) or enter it from
    your own (``async with bgmigrate.lifespan(): yield``).
    """
    await startup()
    try:
        yield
    finally:
        await shutdown()


async def startup() -> None:
    """``lifespan``'s start-up, for an app that starts with event handlers instead of a lifespan:
    ``app.router.add_event_handler("startup", bgmigrate.startup)``."""
    await get_runtime().start()


async def shutdown() -> None:
    """``lifespan``'s shutdown (drain and close the backends), for an app that starts with event
    handlers: ``app.router.add_event_handler("shutdown", bgmigrate.shutdown)``."""
    await get_runtime().close()
