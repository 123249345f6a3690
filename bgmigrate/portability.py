"""Recognise values that no queue can carry to a worker, and say what to pass instead."""

from __future__ import annotations

import functools
import inspect
import io
from typing import Any

from pydantic import BaseModel

# Matched by class path so that neither SQLAlchemy nor Starlette has to be imported here.
_REQUEST_SCOPED: dict[str, str] = {
    "starlette.requests.HTTPConnection": "pass the values you need from the request "
    "(ids, headers, the client address) instead of the Request",
    "starlette.websockets.WebSocket": "pass the values you need instead of the WebSocket; "
    "it is closed once the endpoint returns",
    "starlette.datastructures.UploadFile": "annotate the parameter 'UploadFile' and set "
    "BGMIGRATE_BLOB_STORE so that it travels with its job, or pass its bytes",
    "sqlalchemy.orm.session.Session": "pass the id and open a session inside the task",
    "sqlalchemy.ext.asyncio.session.AsyncSession": "pass the id and open a session inside the task",
}
_ORM_ROW_FIX = "pass the row's id and load it inside the task"


@functools.lru_cache(maxsize=1024)
def _request_scoped_fix(cls: type) -> str | None:
    """The fix for instances of ``cls`` if it is (a subclass of) a request-scoped class."""
    for base in cls.__mro__:
        fix = _REQUEST_SCOPED.get(f"{base.__module__}.{base.__qualname__}")
        if fix is not None:
            return fix
    # Every mapped class (declarative, legacy declarative_base, imperative) has a class manager;
    # SQLModel table models have one too, but they are pydantic models and travel as such.
    if hasattr(cls, "_sa_class_manager") and not issubclass(cls, BaseModel):
        return _ORM_ROW_FIX
    return None


def uncarriable_reason(value: object) -> str | None:
    """Why ``value`` cannot be sent to a worker and what to do instead, or ``None`` if it can."""
    cls: type = type(value)
    fix = _request_scoped_fix(cls)
    if fix is not None:
        return f"a {type(value).__name__} is bound to this request: {fix}"
    if isinstance(value, io.IOBase):
        return "an open file only exists in this process: pass its path and open it in the task"
    kind = callable_kind(value)
    if kind is not None:
        return f"a {kind} cannot be sent to a worker: pass data, and look the function up there"
    return None


def callable_kind(func: object) -> str | None:
    """Name the kind of callable a queue cannot carry by name (lambda, closure, ...), or None."""
    if isinstance(func, functools.partial):
        return "functools.partial"
    if inspect.ismethod(func):
        return "bound method"
    if inspect.isfunction(func):
        if func.__name__ == "<lambda>":
            return "lambda"
        if "<locals>" in func.__qualname__:
            return "closure (nested function)"
        return "function"
    return None


def is_plain_json(value: Any) -> bool:
    """Whether ``value`` survives a JSON round trip unchanged (no tuples, no non-str keys)."""
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, list):
        return all(is_plain_json(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and is_plain_json(v) for k, v in value.items())
    return False
