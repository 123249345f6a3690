"""@task registers a module-level function, keeps it callable and validates it at import."""

from __future__ import annotations

import asyncio
import inspect
from datetime import UTC, datetime, timedelta

import pytest

from bgmigrate import RetryPolicy, Task, task
from bgmigrate.errors import ConfigError, UnsupportedOption
from bgmigrate.registry import registry


@task
def add(x: int, y: int) -> int:
    return x + y


@task(name="custom.name", queue="heavy", timeout=5, retry=RetryPolicy(max_attempts=2))
async def embed(text: str) -> list[float]:
    return [float(len(text))]


def test_bare_decorator_registers_under_module_and_qualname() -> None:
    assert add.name == f"{__name__}.add"
    assert registry.get(add.name) is add


def test_called_decorator_sets_name_and_options() -> None:
    assert embed.name == "custom.name"
    assert (embed.options.queue, embed.options.timeout) == ("heavy", 5)
    assert registry.get("custom.name") is embed


def test_task_stays_directly_callable() -> None:
    assert add(2, 3) == 5
    assert asyncio.run(embed("abc")) == [3.0]


def test_async_task_looks_like_a_coroutine_function_to_starlette() -> None:
    # Starlette awaits a callable when its __call__ is a coroutine function.
    assert inspect.iscoroutinefunction(type(embed).__call__)
    assert not inspect.iscoroutinefunction(type(add).__call__)
    assert embed.is_async
    assert not add.is_async


def test_task_keeps_the_function_identity_for_introspection() -> None:
    assert (vars(add)["__name__"], add.__module__) == ("add", __name__)
    assert inspect.unwrap(add) is add.func


def test_using_returns_a_configured_copy_and_leaves_the_task_alone() -> None:
    later = add.using(delay=10, key="k1")
    assert isinstance(later, Task)
    assert (later.options.delay, later.options.key, later.name) == (10, "k1", add.name)
    assert add.options.delay is None
    assert add.options.key is None


def test_using_delay_replaces_run_after_and_back() -> None:
    when = datetime.now(UTC) + timedelta(minutes=1)
    assert add.using(run_after=when).using(delay=1).options.run_after is None
    assert add.using(delay=1).using(run_after=when).options.delay is None


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"delay": -1}, "delay must be >= 0"),
        ({"run_after": datetime(2030, 1, 1)}, "timezone-aware"),
        ({"priority": 12}, "priority must be between 0 and 9"),
        ({"backend": "nope"}, "unknown backend 'nope'"),
    ],
)
def test_bad_options_fail_when_set(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        add.using(**options)  # type: ignore[arg-type]


def test_option_the_backend_cannot_honour_fails_at_decoration() -> None:
    with pytest.raises(UnsupportedOption, match=r"priority=.*'inprocess'"):
        task(priority=5)(_priority_candidate)


def _priority_candidate() -> None:
    """Module level so that only the unsupported option can make decoration fail."""


def test_lambdas_and_nested_functions_cannot_be_tasks() -> None:
    def nested() -> None: ...

    with pytest.raises(ConfigError, match="module-level"):
        task(nested)
    with pytest.raises(ConfigError, match="module-level"):
        task(lambda: None)
    with pytest.raises(ConfigError, match="def/async def"):
        task(print)
