"""``@task``: register a function so that it can run on a queue, and keep it callable."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar, overload

from bgmigrate.errors import ConfigError
from bgmigrate.retry import RetryPolicy
from bgmigrate.task_options import TaskOptions

if TYPE_CHECKING:
    from bgmigrate.backend import TaskHandle
    from bgmigrate.runtime import Runtime

P = ParamSpec("P")
R = TypeVar("R")

_UNSET: Any = object()


@dataclass(frozen=True, kw_only=True, eq=False)
class Task(Generic[P, R]):
    """A registered task function: call it directly, or ``enqueue`` it to run on its backend."""

    func: Callable[P, R]
    """The decorated function, unchanged."""
    name: str
    """Stable name the task is registered and sent under (default ``module.qualname``)."""
    options: TaskOptions = field(default_factory=TaskOptions)
    """Where, when and how the task runs."""

    def __post_init__(self) -> None:
        # Look like the wrapped function to introspection (logs, FastAPI, Starlette).
        for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
            object.__setattr__(self, attribute, getattr(self.func, attribute, None))
        object.__setattr__(self, "__wrapped__", self.func)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the function directly, in this process, as if it were not a task."""
        return self.func(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name}>"

    @property
    def is_async(self) -> bool:
        """Whether the function is an ``async def``."""
        return inspect.iscoroutinefunction(self.func)

    def using(
        self,
        *,
        delay: float | None = _UNSET,
        run_after: datetime | None = _UNSET,
        queue: str | None = _UNSET,
        priority: int | None = _UNSET,
        key: str | None = _UNSET,
        backend: str | None = _UNSET,
        timeout: float | None = _UNSET,
        retry: RetryPolicy | None = _UNSET,
    ) -> Task[P, R]:
        """Return a copy of this task with the given options changed (the task stays registered
        under the same name)."""
        changes: dict[str, Any] = {
            name: value
            for name, value in {
                "delay": delay,
                "run_after": run_after,
                "queue": queue,
                "priority": priority,
                "key": key,
                "backend": backend,
                "timeout": timeout,
                "retry": retry,
            }.items()
            if value is not _UNSET
        }
        if "delay" in changes and "run_after" not in changes:
            changes["run_after"] = None
        if "run_after" in changes and "delay" not in changes:
            changes["delay"] = None
        configured = dataclasses.replace(self, options=dataclasses.replace(self.options, **changes))
        _runtime().validate_task(configured)
        return configured

    def enqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle:
        """Validate the arguments and hand the task to its backend now; return its handle."""
        return _runtime().enqueue(self, args, kwargs)

    async def aenqueue(self, *args: P.args, **kwargs: P.kwargs) -> TaskHandle:
        """Async form of :meth:`enqueue`."""
        return await _runtime().aenqueue(self, args, kwargs)


@dataclass(frozen=True, kw_only=True, eq=False)
class AsyncTask(Task[P, R]):
    """A task whose function is ``async def``.

    Its ``__call__`` is itself ``async def`` so that Starlette and FastAPI, which look at
    ``__call__`` to decide whether to await a callable, keep awaiting it.
    """

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:  # type: ignore[override]
        """Await the function directly, in this process."""
        func: Callable[P, Coroutine[Any, Any, Any]] = self.func  # type: ignore[assignment]
        return await func(*args, **kwargs)


def is_async_callable(func: object) -> bool:
    """Whether calling ``func`` returns an awaitable (``async def``, or an async ``__call__``)."""
    while isinstance(func, functools.partial):
        func = func.func
    return inspect.iscoroutinefunction(func) or (
        callable(func) and inspect.iscoroutinefunction(type(func).__call__)
    )


def _runtime() -> Runtime:
    # Imported here because the runtime imports this module to route and run tasks.
    from bgmigrate.runtime import get_runtime

    return get_runtime()


def _check_importable(func: Callable[..., Any]) -> None:
    qualname = getattr(func, "__qualname__", "")
    if not inspect.isfunction(func):
        raise ConfigError(f"@task needs a function defined with def/async def, got {func!r}")
    if func.__name__ == "<lambda>" or "<locals>" in qualname:
        raise ConfigError(
            f"@task on {qualname!r}: a worker can only find module-level functions by name; "
            "move the function to module level"
        )


def make_task(func: Callable[P, R], *, name: str | None = None, **options: Any) -> Task[P, R]:
    """Build, validate and register the task for ``func`` (what ``@task`` does)."""
    _check_importable(func)
    task_name = name or f"{func.__module__}.{func.__qualname__}"
    cls = AsyncTask if inspect.iscoroutinefunction(func) else Task
    created: Task[P, R] = cls(func=func, name=task_name, options=TaskOptions(**options))
    _runtime().register(created)
    return created


@overload
def task(func: Callable[P, R], /) -> Task[P, R]: ...


@overload
def task(
    *,
    name: str | None = None,
    queue: str | None = None,
    timeout: float | None = None,
    retry: RetryPolicy | None = None,
    priority: int | None = None,
    backend: str | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


def task(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    queue: str | None = None,
    timeout: float | None = None,
    retry: RetryPolicy | None = None,
    priority: int | None = None,
    backend: str | None = None,
) -> Task[P, R] | Callable[[Callable[P, R]], Task[P, R]]:
    """Register a module-level function as a task: ``@task`` or ``@task(name=..., ...)``.

    The result stays directly callable. A bad definition (a lambda, a nested function, an
    option the task's backend cannot honour) raises ``ConfigError``/``UnsupportedOption`` at
    import time.
    """
    options: dict[str, Any] = {
        "queue": queue,
        "timeout": timeout,
        "retry": retry,
        "priority": priority,
        "backend": backend,
    }

    def decorate(function: Callable[P, R]) -> Task[P, R]:
        return make_task(function, name=name, **options)

    return decorate if func is None else decorate(func)
