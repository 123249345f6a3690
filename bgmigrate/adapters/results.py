"""Task results and failures as JSON, for backends whose workers run in another process.

A worker encodes a task's return value with the function's return annotation (pydantic), and
the handle decodes it back to that type. A failure travels as its exception's type name and
message and comes back as :class:`~bgmigrate.errors.TaskFailed`: the class named in a message
is never imported.
"""

from __future__ import annotations

import functools
import json
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import TypeAdapter, ValidationError
from pydantic_core import PydanticSerializationError

from bgmigrate.errors import SerializationError, TaskFailed, UnknownTaskError
from bgmigrate.registry import registry


@functools.cache
def _adapter(func: Callable[..., Any]) -> TypeAdapter[Any]:
    try:
        annotation = typing.get_type_hints(func).get("return", Any)
    except (NameError, TypeError):  # an annotation that cannot be resolved: plain JSON
        annotation = Any
    return TypeAdapter(Any if annotation is None else annotation)


def encode_result(func: Callable[..., Any], value: Any) -> Any:
    """``value`` (returned by ``func``) as JSON-safe data; ``SerializationError`` if it is not."""
    try:
        return _adapter(func).dump_python(value, mode="json")
    except (PydanticSerializationError, ValueError, TypeError) as exc:
        raise SerializationError(
            f"the result of {func.__qualname__} ({type(value).__name__}) cannot be sent back "
            f"as JSON: annotate the return type or return plain data ({exc})"
        ) from exc


def decode_result(func: Callable[..., Any], data: Any) -> Any:
    """The value ``func`` returned, rebuilt from :func:`encode_result`'s output."""
    try:
        return _adapter(func).validate_json(json.dumps(data))
    except ValidationError as exc:
        raise SerializationError(f"the result of {func.__qualname__} is invalid: {exc}") from exc


def decode_registered(task_name: str, data: Any) -> Any:
    """:func:`decode_result` for the task registered as ``task_name``; the plain JSON if this
    process has no such task (a handle can outlive, or live apart from, a task's module)."""
    try:
        func = registry.get(task_name).func
    except UnknownTaskError:
        return data
    return decode_result(func, data)


def describe_error(exc: BaseException) -> dict[str, str]:
    """An exception as ``{"type": "module.Class", "message": ...}`` for a result store."""
    kind = type(exc)
    return {"type": f"{kind.__module__}.{kind.__qualname__}", "message": str(exc)}


def task_failed(task_name: str, error: Mapping[str, Any]) -> TaskFailed:
    """The :class:`TaskFailed` for a failure stored as :func:`describe_error` made it."""
    exc_type = str(error.get("type") or "builtins.Exception")
    message = str(error.get("message") or "")
    short = exc_type.removeprefix("builtins.")
    return TaskFailed(f"task {task_name} failed: {short}: {message}", exc_type=exc_type)
