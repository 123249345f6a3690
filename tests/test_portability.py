"""Values bound to a request or to this process are recognised, with the fix to apply."""

from __future__ import annotations

import functools
import io

import pytest
from starlette.datastructures import UploadFile
from starlette.requests import Request

from bgmigrate.portability import callable_kind, is_plain_json, uncarriable_reason


class _Client:
    def send(self) -> None: ...


def module_function() -> None: ...


def _closure() -> object:
    def inner() -> None: ...

    return inner


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        (Request({"type": "http", "headers": []}), "pass the values you need from the request"),
        (UploadFile(io.BytesIO(b"")), "pass its bytes"),
        (io.StringIO(), "pass its path"),
        (lambda: None, "a lambda cannot be sent"),
        (_Client().send, "a bound method cannot be sent"),
        (functools.partial(print, 1), "a functools.partial cannot be sent"),
        (_closure(), "a closure"),
    ],
)
def test_uncarriable_values_come_with_a_fix(value: object, fix: str) -> None:
    reason = uncarriable_reason(value)
    assert reason is not None
    assert fix in reason


@pytest.mark.parametrize("value", [1, "text", [1, {"a": None}], {"k": 1.5}])
def test_plain_values_are_carriable(value: object) -> None:
    assert uncarriable_reason(value) is None


def test_sqlalchemy_sessions_are_recognised_by_class_path() -> None:
    # A stand-in with SQLAlchemy's class path: SQLAlchemy itself is not a dependency.
    session_class = type("Session", (), {"__module__": "sqlalchemy.orm.session"})
    reason = uncarriable_reason(session_class())
    assert reason is not None
    assert "open a session inside the task" in reason


def test_callable_kinds() -> None:
    assert callable_kind(module_function) == "function"
    assert callable_kind(_closure()) == "closure (nested function)"
    assert callable_kind(42) is None


@pytest.mark.parametrize(
    ("value", "plain"),
    [((1, 2), False), ({1: "a"}, False), (float("nan"), False), ([True, None, "x"], True)],
)
def test_plain_json_means_unchanged_by_a_round_trip(value: object, plain: bool) -> None:
    assert is_plain_json(value) is plain
