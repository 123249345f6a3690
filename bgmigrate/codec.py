"""Arguments to and from JSON, driven by the task function's type hints.

At enqueue time each argument is checked against its parameter's annotation (pydantic, strict)
and encoded to JSON; the worker validates the JSON back into the annotated types, so pydantic
models, dataclasses, ``datetime``, ``UUID``, ``Decimal``, enums, tuples and ``bytes`` arrive as
they left. Unannotated parameters must hold plain JSON. No pickle.
"""

from __future__ import annotations

import functools
import inspect
import json
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from bgmigrate.errors import SerializationError
from bgmigrate.portability import is_plain_json, uncarriable_reason

#: The JSON document sent for one call: ``{"args": [...], "kwargs": {...}}``.
Payload = dict[str, Any]

_MODEL_CONFIG = ConfigDict(
    ser_json_bytes="base64",
    val_json_bytes="base64",
    arbitrary_types_allowed=True,
    populate_by_name=False,
)


@dataclass(frozen=True)
class CallCodec:
    """Encodes and decodes the arguments of calls to one function."""

    name: str
    signature: inspect.Signature
    model: type[BaseModel]
    field_of: Mapping[str, str]
    unannotated: frozenset[str]

    def encode(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Payload:
        """Validate a call's arguments against the type hints and return its JSON payload."""
        bound = self._bind(args, kwargs)
        for param, value in bound.arguments.items():
            self._check_carriable(param, value)
        try:
            instance = self.model.model_validate(bound.arguments, strict=True, by_alias=True)
        except ValidationError as exc:
            raise SerializationError(self._explain(exc)) from exc
        encoded = instance.model_dump(mode="json", by_alias=True, exclude_unset=True)
        rebound = inspect.BoundArguments(self.signature, encoded)
        return {"args": list(rebound.args), "kwargs": rebound.kwargs}

    def decode(self, payload: Payload) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn a JSON payload back into the typed ``(args, kwargs)`` to call the function with."""
        bound = self._bind(tuple(payload.get("args", ())), payload.get("kwargs", {}))
        try:
            instance = self.model.model_validate_json(json.dumps(bound.arguments), by_alias=True)
        except ValidationError as exc:
            raise SerializationError(self._explain(exc)) from exc
        values = {
            param: getattr(instance, field)
            for param, field in self.field_of.items()
            if field in instance.model_fields_set
        }
        decoded = inspect.BoundArguments(self.signature, values)
        return decoded.args, decoded.kwargs

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> inspect.BoundArguments:
        try:
            return self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise SerializationError(
                f"arguments do not match the signature of task {self.name!r}{self.signature}: {exc}"
            ) from exc

    def _check_carriable(self, param: str, value: Any) -> None:
        reason = uncarriable_reason(value)
        if reason is not None:
            raise SerializationError(f"argument {param!r} of task {self.name!r}: {reason}")
        if param in self.unannotated and not is_plain_json(value):
            raise SerializationError(
                f"argument {param!r} of task {self.name!r} has no type hint and is not plain "
                f"JSON (got {type(value).__name__}): annotate the parameter, e.g. "
                f"'{param}: {type(value).__name__}', or pass JSON values"
            )

    def _explain(self, exc: ValidationError) -> str:
        problems = []
        for error in exc.errors(include_url=False):
            loc = list(error["loc"])
            param = str(loc[0]) if loc else "?"
            where = "".join(f"[{part!r}]" for part in loc[1:])
            problems.append(f"argument {param!r}{where}: {error['msg']}")
        return (
            f"task {self.name!r} cannot carry these arguments: "
            + "; ".join(problems)
            + " (pass values of the annotated types)"
        )


@functools.cache
def codec_for(func: Callable[..., Any], name: str) -> CallCodec:
    """The (cached) codec for calls to ``func``, registered as ``name``."""
    signature = inspect.signature(func)
    hints = typing.get_type_hints(func, include_extras=True)
    fields: dict[str, Any] = {}
    field_of: dict[str, str] = {}
    unannotated: set[str] = set()
    for index, (param_name, param) in enumerate(signature.parameters.items()):
        annotation = hints.get(param_name, Any)
        if param_name not in hints:
            unannotated.add(param_name)
        if param.kind is param.VAR_POSITIONAL:
            annotation = tuple[annotation, ...]  # type: ignore[valid-type]
        elif param.kind is param.VAR_KEYWORD:
            annotation = dict[str, annotation]  # type: ignore[valid-type]
        # Field names are generated so that parameter names such as "json" or "_private"
        # cannot clash with pydantic's own attributes; the parameter name is the alias.
        field = f"p{index}"
        field_of[param_name] = field
        fields[field] = (annotation, Field(None, alias=param_name))
    model = create_model(f"Arguments[{name}]", __config__=_MODEL_CONFIG, **fields)
    return CallCodec(name, signature, model, field_of, frozenset(unannotated))
