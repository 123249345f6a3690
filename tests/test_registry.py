"""The registry maps stable names to tasks and refuses everything else."""

from __future__ import annotations

import pytest

from bgmigrate.errors import ConfigError, UnknownTaskError
from bgmigrate.registry import TaskRegistry
from bgmigrate.task import Task


def first() -> None: ...


def second() -> None: ...


@pytest.fixture
def fresh() -> TaskRegistry:
    return TaskRegistry()


def test_unknown_name_is_an_error_that_suggests_near_names(fresh: TaskRegistry) -> None:
    fresh.register(Task(func=first, name="app.tasks.send_email"))
    with pytest.raises(UnknownTaskError, match=r"did you mean app.tasks.send_email"):
        fresh.get("app.tasks.send_emial")


def test_a_name_taken_by_another_function_is_refused(fresh: TaskRegistry) -> None:
    fresh.register(Task(func=first, name="shared"))
    with pytest.raises(ConfigError, match=r"already registered.*first"):
        fresh.register(Task(func=second, name="shared"))


def test_the_same_function_registered_again_replaces_itself(fresh: TaskRegistry) -> None:
    fresh.register(Task(func=first, name="x"))
    again = Task(func=first, name="x")
    fresh.register(again)
    assert fresh.get("x") is again
    assert len(fresh) == 1


def test_plain_functions_are_found_by_identity(fresh: TaskRegistry) -> None:
    registered = Task(func=first, name="x")
    fresh.register(registered)
    assert fresh.for_callable(first) is registered
    assert fresh.for_callable(second) is None


def test_unregister_forgets_both_lookups(fresh: TaskRegistry) -> None:
    fresh.register(Task(func=first, name="x"))
    fresh.unregister("x")
    assert "x" not in fresh
    assert fresh.for_callable(first) is None
