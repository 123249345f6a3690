"""Arguments to and from JSON, driven by the task function's type hints.

At enqueue time each argument is checked against its parameter's annotation (pydantic, strict)
and encoded to JSON; the worker validates the JSON back into the annotated types, so pydantic
models, dataclasses, ``datetime``, ``UUID``, ``Decimal``, enums, tuples and ``bytes`` arrive as
they left. Unannotated parameters must hold plain JSON. No pickle.

A value's whole state is sent: every field of a model, whether it was set, defaulted or left out
of ``model_fields_set`` (``model_construct``, rows loaded by SQLModel), under its field name.
``add_task`` validates the encoded JSON exactly as the worker will, so a value the worker could
not rebuild is refused at the call, not found missing on the worker. Every failure is a
:class:`~bgmigrate.errors.SerializationError`.
"""

from __future__ import annotations

import functools
import inspect
import json
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated, Any, NamedTuple

import pydantic_core
from packaging.version import Version
from pydantic import VERSION as PYDANTIC_VERSION
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
)

from bgmigrate.blobs.claim import ClaimPolicy, FileKind, Outgoing, check_out, file_parameter
from bgmigrate.errors import SerializationError
from bgmigrate.portability import is_plain_json, uncarriable_reason

#: The JSON document sent for one call: ``{"args": [...], "kwargs": {...}}``.
Payload = dict[str, Any]


class EncodedCall(NamedTuple):
    """A payload still as JSON text (as the outbox stores it): its two parts, ready to be
    written into a message as they are, without decoding and encoding them again."""

    args: str
    """The JSON array of positional arguments."""
    kwargs: str
    """The JSON object of keyword arguments."""

    def decoded(self) -> Payload:
        """The payload as :func:`CallCodec.encode` returns it."""
        return {"args": json.loads(self.args), "kwargs": json.loads(self.kwargs)}


_COMPACT = json.JSONEncoder(separators=(",", ":"))
"""``json.dumps(..., separators=(",", ":"))`` without making an encoder per call."""


def with_fields(obj: str, fields: Mapping[str, Any]) -> str:
    """The JSON object ``obj`` (text) with ``fields`` added after its own members.

    A field that ``obj`` also has appears twice; JSON decoders keep the last, so ``fields``
    win, as in ``{**obj, **fields}``.
    """
    return with_members(obj, members(fields))


def members(fields: Mapping[str, Any]) -> str:
    """The JSON text of ``fields``' members, without the braces (``"a":1,"b":[2]``): what
    :func:`with_members` adds to an object, encoded once for many."""
    return _COMPACT.encode(fields)[1:-1]


def with_members(obj: str, added: str) -> str:
    """The JSON object ``obj`` (text) with the ``added`` members (text, see :func:`members`)
    after its own, which they override as in :func:`with_fields`."""
    if not added:
        return obj
    if obj.strip() == "{}":
        return f"{{{added}}}"
    return f"{obj.rstrip()[:-1]},{added}}}"


BY_NAME = Version(PYDANTIC_VERSION) >= Version("2.11")
"""Whether values cross by field name. pydantic >= 2.11 validates every nested model by field
name on request (``by_name``), so a model whose serialization alias differs from its validation
alias reads back its own output. Older releases validate by alias only: values are sent by alias
there, and such a model is refused at ``add_task`` (the encoded call is validated as the worker
will validate it)."""
_VALIDATE_OPTIONS: dict[str, Any] = {"by_name": True} if BY_NAME else {}

_MODEL_CONFIG = ConfigDict(
    ser_json_bytes="base64",
    val_json_bytes="base64",
    ser_json_inf_nan="constants",
    arbitrary_types_allowed=True,
)


@dataclass(frozen=True)
class CallCodec:
    """Encodes and decodes the arguments of calls to one function."""

    name: str
    signature: inspect.Signature
    model: type[BaseModel]
    field_of: Mapping[str, str]
    unannotated: frozenset[str]
    files: Mapping[str, FileKind]
    """Parameters that carry files (see :mod:`bgmigrate.blobs.claim`), by name."""

    def check_out(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], policy: ClaimPolicy
    ) -> tuple[tuple[Any, ...], dict[str, Any], list[Outgoing]]:
        """The call with its files replaced by ``BlobRef`` references, and the files to store
        before the job is handed over (see :func:`bgmigrate.blobs.claim.check_out`)."""
        if not self.files:
            return args, dict(kwargs), []
        bound = self._bind(args, kwargs)
        outgoing = check_out(self.name, self.files, bound.arguments, policy)
        return bound.args, bound.kwargs, outgoing

    def encode(
        self, args: tuple[Any, ...], kwargs: Mapping[str, Any], *, max_bytes: int
    ) -> Payload:
        """Validate a call's arguments against the type hints and return its JSON payload.

        Refused (``SerializationError``) when an argument does not match its hint, cannot be
        encoded, would not decode on the worker, or encodes to more than ``max_bytes``.
        """
        bound = self._bind(args, kwargs)
        with self._refusing():
            for param, value in bound.arguments.items():
                self._check_carriable(param, value)
            fields = {self.field_of[param]: value for param, value in bound.arguments.items()}
            instance = self.model.model_validate(fields, strict=True)
            # Parameters left out of the call are not sent (the worker applies their defaults);
            # inside a value nothing is left out. Field names or aliases: see BY_NAME. round_trip
            # leaves computed fields out, as a model with extra='forbid' rejects them.
            encoded = self.model.__pydantic_serializer__.to_json(
                instance,
                include=instance.model_fields_set,
                by_alias=not BY_NAME,
                round_trip=True,
                warnings="error",
            )
            # Encoded once: the cap measures these bytes, add_task validates them as the worker
            # will, and the broker client is handed their parsed form (it wants Python values).
            self._check_size(len(encoded), max_bytes)
            self._validate(encoded)
            sent: dict[str, Any] = pydantic_core.from_json(encoded)
        values = {param: sent[field] for param, field in self.field_of.items() if field in sent}
        rebound = inspect.BoundArguments(self.signature, values)
        return {"args": list(rebound.args), "kwargs": rebound.kwargs}

    def decode(self, payload: Payload, *, max_bytes: int) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Turn a JSON payload back into the typed ``(args, kwargs)`` to call the function with.

        Refused (``SerializationError``) as at ``add_task``, including arguments over
        ``max_bytes``: a worker does not build what the web side would not have sent.
        """
        bound = self._bind(tuple(payload.get("args", ())), payload.get("kwargs", {}))
        with self._refusing():
            # A string's UTF-8 is at least as long as the string: a huge one is refused before
            # it is copied into JSON text (which takes a few times its size for a moment).
            floor = sum(len(v) for v in bound.arguments.values() if isinstance(v, str))
            self._check_size(floor, max_bytes, "at least ")
            # Validated from JSON text, not from the Python values the broker client parsed: the
            # values are typed from their JSON forms (ISO strings, base64, arrays for tuples)
            # under the same strict rules as at add_task, and the text is the size measured
            # there, so the cap is checked before anything is built from it.
            received = {self.field_of[param]: value for param, value in bound.arguments.items()}
            encoded = pydantic_core.to_json(received, inf_nan_mode="constants")
            self._check_size(len(encoded), max_bytes)
            instance = self._validate(encoded)
        values = {
            param: getattr(instance, field)
            for param, field in self.field_of.items()
            if field in instance.model_fields_set
        }
        decoded = inspect.BoundArguments(self.signature, values)
        return decoded.args, decoded.kwargs

    def _validate(self, encoded: bytes) -> BaseModel:
        return self.model.model_validate_json(encoded, strict=True, **_VALIDATE_OPTIONS)

    def _bind(self, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> inspect.BoundArguments:
        try:
            return self.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise SerializationError(
                f"arguments do not match the signature of task {self.name!r}{self.signature}: {exc}"
            ) from exc

    @contextmanager
    def _refusing(self) -> Iterator[None]:
        """Map every failure to ``SerializationError``: validators, serializers and properties
        of the values themselves run in here, so any exception type can come out of them."""
        try:
            yield
        except SerializationError:
            raise
        except ValidationError as exc:
            raise SerializationError(self._explain(exc)) from exc
        except Exception as exc:
            raise SerializationError(
                f"task {self.name!r} cannot carry these arguments: {type(exc).__name__}: "
                f"{str(exc)[:500]} (pass plain, finite data of the annotated types)"
            ) from exc

    def _check_size(self, size: int, max_bytes: int, bound: str = "") -> None:
        if size > max_bytes:
            raise SerializationError(
                f"arguments of task {self.name!r} encode to {bound}{size} bytes, more than "
                f"BGMIGRATE_MAX_PAYLOAD_BYTES={max_bytes}: annotate large files 'bytes', "
                "'UploadFile' or 'LocalFile' and set BGMIGRATE_BLOB_STORE, or store large data "
                "elsewhere (object storage, the database) and pass its key"
            )

    def _check_carriable(self, param: str, value: Any) -> None:
        reason = uncarriable_reason(value)
        if reason is not None:
            raise SerializationError(f"argument {param!r} of task {self.name!r}: {reason}")
        hint = self.model.model_fields[self.field_of[param]].annotation
        # ``issubclass``, not only ``isinstance(hint, type)``: the ``Any`` of a missing hint is
        # a class on Python 3.11.
        is_model = isinstance(hint, type) and issubclass(hint, BaseModel)
        if (
            isinstance(value, BaseModel)
            and isinstance(hint, type)
            and is_model
            and type(value) is not hint
        ):
            # Serialized as the hinted model: the subclass's own fields would not be sent.
            added = sorted(set(type(value).model_fields) - set(hint.model_fields))
            if added:
                raise SerializationError(
                    f"argument {param!r} of task {self.name!r} is a {type(value).__name__}, "
                    f"annotated {hint.__name__}: its fields {added} would not be sent; annotate "
                    f"the parameter '{param}: {type(value).__name__}' or pass a {hint.__name__}"
                )
        if param in self.unannotated and not is_plain_json(value):
            raise SerializationError(
                f"argument {param!r} of task {self.name!r} has no type hint and is not plain "
                f"JSON (got {type(value).__name__}): annotate the parameter, e.g. "
                f"'{param}: {type(value).__name__}', or pass JSON values"
            )

    def _explain(self, exc: ValidationError) -> str:
        param_of = {field: param for param, field in self.field_of.items()}
        problems = []
        for error in exc.errors(include_url=False):
            loc = list(error["loc"])
            param = param_of.get(str(loc[0]), str(loc[0])) if loc else "?"
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
    files: dict[str, FileKind] = {}
    for index, (param_name, param) in enumerate(signature.parameters.items()):
        annotation = hints.get(param_name, Any)
        if param_name not in hints:
            unannotated.add(param_name)
        if param.kind is param.VAR_POSITIONAL:
            annotation = tuple[annotation, ...]  # type: ignore[valid-type]
        elif param.kind is param.VAR_KEYWORD:
            annotation = dict[str, annotation]  # type: ignore[valid-type]
        elif (carried := file_parameter(annotation)) is not None:
            files[param_name], annotation = carried
        # Field names are generated so that parameter names such as "json" or "_private"
        # cannot clash with pydantic's own attributes; errors name the parameter (_explain).
        field = f"p{index}"
        field_of[param_name] = field
        fields[field] = (_wire_type(annotation), Field(None))
    model = create_model(f"Arguments[{name}]", __config__=_MODEL_CONFIG, **fields)
    return CallCodec(name, signature, model, field_of, frozenset(unannotated), files)


def _wire_type(annotation: Any) -> Any:
    """``annotation`` with every SQLModel table model in it read through :func:`_table_row`.

    A table model's ``__init__`` does not validate (SQLModel's design), and pydantic calls it
    with the raw JSON values: a ``datetime`` would arrive as its ISO string.
    """
    if _is_table_model(annotation):
        return Annotated[annotation, WrapValidator(functools.partial(_table_row, annotation))]
    args = typing.get_args(annotation)
    rewritten = tuple(_wire_type(arg) for arg in args)
    if rewritten == args:
        return annotation
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return Annotated[(rewritten[0], *rewritten[1:])]
    if origin in (typing.Union, types.UnionType):
        return typing.Union[rewritten]  # noqa: UP007 - built from a tuple of types
    return origin[rewritten]


def _is_table_model(annotation: Any) -> bool:
    return (
        isinstance(annotation, type)
        and issubclass(annotation, BaseModel)
        and bool(annotation.model_config.get("table"))
    )


def _table_row(
    model: type[BaseModel], value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
) -> Any:
    """Validate a table model's JSON strictly through a plain twin, then build the row."""
    if isinstance(value, model) or info.mode == "python":
        return handler(value)
    typed = _twin(model).model_validate_json(pydantic_core.to_json(value), strict=True)
    return model(**dict(typed))


@functools.cache
def _twin(model: type[BaseModel]) -> type[BaseModel]:
    """A plain (validating) pydantic model with the fields of table model ``model``."""
    fields: dict[str, Any] = {
        name: (info.annotation, info) for name, info in model.model_fields.items()
    }
    return create_model(
        f"{model.__name__}Fields",
        __config__=ConfigDict(populate_by_name=True, arbitrary_types_allowed=True),
        **fields,
    )
