"""The registry of tasks by name: what workers may run, and nothing else."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from bgmigrate.errors import ConfigError, UnknownTaskError

if TYPE_CHECKING:
    from bgmigrate.task import Task


class TaskRegistry:
    """Tasks by their stable name, and by function for ``add_task(plain_function)`` lookups."""

    def __init__(self) -> None:
        self._by_name: dict[str, Task[Any, Any]] = {}
        self._by_func: dict[Callable[..., Any], Task[Any, Any]] = {}

    def register(self, task: Task[Any, Any]) -> None:
        """Add ``task``; a name already taken by another function is a ``ConfigError``."""
        existing = self._by_name.get(task.name)
        if existing is not None and _origin(existing.func) != _origin(task.func):
            raise ConfigError(
                f"task name {task.name!r} is already registered for "
                f"{_origin(existing.func)}; give one of them another name with @task(name=...)"
            )
        if existing is not None:
            # Same function defined again (a module reloaded): the newest definition wins.
            self._by_func.pop(existing.func, None)
        self._by_name[task.name] = task
        self._by_func[task.func] = task

    def get(self, name: str) -> Task[Any, Any]:
        """The task registered as ``name``; ``UnknownTaskError`` (with near names) otherwise."""
        try:
            return self._by_name[name]
        except KeyError:
            near = difflib.get_close_matches(name, self._by_name, n=3)
            hint = f"; did you mean {', '.join(near)}?" if near else ""
            raise UnknownTaskError(
                f"no task is registered as {name!r}{hint} (is its module in "
                "BGMIGRATE_TASK_MODULES?)"
            ) from None

    def for_callable(self, func: Callable[..., Any]) -> Task[Any, Any] | None:
        """The task registered for the function ``func``, or ``None``."""
        try:
            return self._by_func.get(func)
        except TypeError:  # unhashable callables are never registered
            return None

    def unregister(self, name: str) -> None:
        """Remove the task registered as ``name`` (for tests and reloads)."""
        task = self._by_name.pop(name, None)
        if task is not None:
            self._by_func.pop(task.func, None)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Task[Any, Any]]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)


def _origin(func: Callable[..., Any]) -> str:
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', '?')}"


#: The process-wide registry that ``@task`` fills and workers read.
registry = TaskRegistry()
