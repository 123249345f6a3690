"""Arguments survive the JSON round trip as the annotated types, and bad ones are refused."""

from __future__ import annotations

import contextlib
import enum
import functools
import inspect
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, field_serializer, field_validator
from sqlalchemy import Column, Integer, Table
from sqlalchemy.orm import declarative_base, registry

from bgmigrate.codec import BY_NAME, EncodedCall, codec_for, with_fields
from bgmigrate.errors import SerializationError
from tests.codec_models import Resource, ResourceRow, kinds, sqlite_engine, state


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Document(BaseModel):
    id: int
    title: str
    tags: list[str]


@dataclass
class Chunk:
    index: int
    text: str


def everything(
    when: datetime,
    day: date,
    ident: UUID,
    amount: Decimal,
    color: Color,
    pair: tuple[int, str],
    blob: bytes,
    doc: Document,
    chunk: Chunk,
    *numbers: int,
    note: str = "",
    **scores: float,
) -> None:
    """A task signature touching every supported kind of parameter."""


def untyped(payload, count: int = 0):  # type: ignore[no-untyped-def]
    """A task with an unannotated parameter."""


def json_name(json: str, _private: int) -> None:
    """Parameter names that would clash with pydantic attributes."""


CODEC = codec_for(everything, "tests.everything")
LIMIT = 1024 * 1024
"""The default ``BGMIGRATE_MAX_PAYLOAD_BYTES``."""


# JSON (ISO 8601) carries UTC offsets to the minute: historical offsets with seconds (local mean
# time before 1900-ish) cannot round-trip, and zones arrive as fixed offsets (same instant).
def _whole_minute_offset(value: datetime) -> bool:
    offset = value.utcoffset()
    return offset is None or offset.seconds % 60 == 0


# Keys of **scores that name another parameter would bind to it, not to **scores.
_PARAMETERS = frozenset(inspect.signature(everything).parameters)

aware_datetimes = st.datetimes(timezones=st.timezones()).filter(_whole_minute_offset)

calls = st.tuples(
    aware_datetimes,
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False, allow_infinity=False),
    st.sampled_from(Color),
    st.tuples(st.integers(), st.text()),
    st.binary(),
    st.builds(Document, id=st.integers(), title=st.text(), tags=st.lists(st.text())),
    st.builds(Chunk, index=st.integers(), text=st.text()),
    st.lists(st.integers(), max_size=3),
    st.text(),
    st.dictionaries(
        st.text(min_size=1).filter(lambda k: k not in _PARAMETERS), st.floats(allow_nan=False)
    ),
)


def _comparable(values: tuple[Any, ...]) -> list[Any]:
    """Datetimes as (instant, offset): PEP 495 makes datetimes in a DST fold or gap compare
    unequal across tzinfo types even when they denote the same instant."""
    return [
        (value.astimezone(UTC), value.utcoffset()) if isinstance(value, datetime) else value
        for value in values
    ]


def _wire(payload: dict[str, Any]) -> dict[str, Any]:
    """What a worker receives: the payload after it crossed the broker as JSON text."""
    result: dict[str, Any] = json.loads(json.dumps(payload))
    return result


@given(calls)
def test_typed_arguments_round_trip_to_the_same_types_and_values(call: tuple[Any, ...]) -> None:
    *positional, numbers, note, scores = call
    args = (*positional, *numbers)
    kwargs = {"note": note, **scores}
    decoded_args, decoded_kwargs = CODEC.decode(
        _wire(CODEC.encode(args, kwargs, max_bytes=LIMIT)), max_bytes=LIMIT
    )
    assert _comparable(decoded_args) == _comparable(args)
    assert [type(value) for value in decoded_args] == [type(value) for value in args]
    assert decoded_kwargs == kwargs


def test_defaults_are_not_sent_and_are_applied_by_the_worker() -> None:
    codec = codec_for(untyped, "tests.untyped")
    payload = codec.encode(({"a": [1, 2]},), {}, max_bytes=LIMIT)
    assert payload == {"args": [{"a": [1, 2]}], "kwargs": {}}
    assert codec.decode(_wire(payload), max_bytes=LIMIT) == (({"a": [1, 2]},), {})


def test_parameter_names_that_clash_with_pydantic_still_work() -> None:
    codec = codec_for(json_name, "tests.json_name")
    assert codec.decode(_wire(codec.encode(("x", 1), {}, max_bytes=LIMIT)), max_bytes=LIMIT) == (
        ("x", 1),
        {},
    )


def test_a_value_that_does_not_match_the_hint_names_the_parameter() -> None:
    codec = codec_for(untyped, "tests.untyped")
    with pytest.raises(SerializationError, match="argument 'count': Input should be a valid int"):
        codec.encode(({},), {"count": "three"}, max_bytes=LIMIT)


def test_an_unannotated_parameter_must_hold_plain_json() -> None:
    codec = codec_for(untyped, "tests.untyped")
    with pytest.raises(SerializationError, match=r"'payload'.*no type hint.*'payload: datetime'"):
        codec.encode((datetime(2024, 1, 1),), {}, max_bytes=LIMIT)


def test_an_unannotated_parameter_refuses_a_model_and_names_its_class() -> None:
    # An unannotated parameter's hint reads as ``Any``, which is a class on Python 3.11: the
    # model-subclass check must not take it for a model (it raised AttributeError).
    codec = codec_for(untyped, "tests.untyped")
    with pytest.raises(SerializationError, match=r"no type hint.*'payload: Document'"):
        codec.encode((Document(id=1, title="t", tags=[]),), {}, max_bytes=LIMIT)


@pytest.mark.parametrize("value", [io.BytesIO(b"x"), lambda: None, print])
def test_uncarriable_values_name_the_parameter_and_the_fix(value: object) -> None:
    codec = codec_for(untyped, "tests.untyped")
    with pytest.raises(SerializationError, match=r"argument 'payload' of task 'tests.untyped'"):
        codec.encode((value,), {}, max_bytes=LIMIT)


def test_a_call_that_does_not_fit_the_signature_is_a_clear_error() -> None:
    codec = codec_for(untyped, "tests.untyped")
    with pytest.raises(SerializationError, match=r"do not match the signature.*'payload'"):
        codec.decode({"args": [], "kwargs": {"unexpected": 1}}, max_bytes=LIMIT)


def test_a_payload_of_the_wrong_type_for_the_worker_is_a_clear_error() -> None:
    codec = codec_for(untyped, "tests.untyped")
    with pytest.raises(SerializationError, match="argument 'count'"):
        codec.decode({"args": [1], "kwargs": {"count": "not a number"}}, max_bytes=LIMIT)


ENGINE = sqlite_engine()
KINDS = {kind: (annotation, values) for kind, annotation, values in kinds(ENGINE)}


@pytest.mark.parametrize("kind", sorted(KINDS))
@settings(deadline=None, max_examples=50)  # SQLite round trips on a shared machine
@given(data=st.data())
def test_every_field_of_a_model_arrives_however_the_model_was_made(
    kind: str, data: st.DataObject
) -> None:
    annotation, values = KINDS[kind]
    value = data.draw(values)
    codec = codec_for(_taking(annotation), f"tests.take_{kind}")
    if kind == "aliases" and not BY_NAME:
        # Before pydantic 2.11 values cross by alias: `shown` goes out as "shownAs", which its
        # validation does not read, and add_task says so rather than lose it.
        with pytest.raises(SerializationError, match=r"\['shown'\]: Field required"):
            codec.encode((value,), {}, max_bytes=LIMIT)
        return
    payload = codec.encode((value,), {}, max_bytes=LIMIT)
    (decoded,), _ = codec.decode(_wire(payload), max_bytes=LIMIT)
    assert state(decoded) == state(value)


@functools.cache
def _taking(annotation: type[BaseModel]) -> Callable[..., None]:
    def take(value: Any) -> None:
        """A task taking one model."""

    take.__annotations__ = {"value": annotation, "return": None}
    return take


def take_document(doc: Document) -> None:
    """A task taking a model."""


def test_a_constructed_model_missing_a_required_field_is_refused_at_add_task() -> None:
    codec = codec_for(take_document, "tests.take_document")
    with pytest.raises(SerializationError, match=r"argument 'doc'\['title'\]: Field required"):
        codec.encode((Document.model_construct(id=1, tags=[]),), {}, max_bytes=LIMIT)


def test_a_constructed_model_holding_the_wrong_type_is_refused_at_add_task() -> None:
    codec = codec_for(take_document, "tests.take_document")
    wrong = Document.model_construct(id="5", title="t", tags=[])
    with pytest.raises(SerializationError, match=r"Expected `int`"):
        codec.encode((wrong,), {}, max_bytes=LIMIT)


def test_default_factory_values_cross_unchanged() -> None:
    def take(resource: Resource) -> None:
        """A task taking a model with default factories."""

    codec = codec_for(take, "tests.take_resource")
    made = Resource(id=1)
    (received,), _ = codec.decode(
        _wire(codec.encode((made,), {}, max_bytes=LIMIT)), max_bytes=LIMIT
    )
    assert (received.created_at, received.token) == (made.created_at, made.token)


LegacyBase: Any = declarative_base()


class LegacyRow(LegacyBase):  # type: ignore[misc]
    """A table mapped with the pre-2.0 ``declarative_base()``."""

    __tablename__ = "legacy_rows"
    id = Column(Integer, primary_key=True)


class ImperativeRow:
    """A plain class mapped imperatively (``registry.map_imperatively``)."""


_imperative = registry()
_imperative.map_imperatively(
    ImperativeRow,
    Table("imperative_rows", _imperative.metadata, Column("id", Integer, primary_key=True)),
)


def take_anything(row: Any, untyped) -> None:  # type: ignore[no-untyped-def]
    """A task whose parameters accept anything."""


@pytest.mark.parametrize(
    "row",
    [ResourceRow(host="h", port=1), LegacyRow(id=1), ImperativeRow()],
    ids=lambda row: type(row).__name__,
)
@pytest.mark.parametrize("position", [0, 1])
def test_an_orm_row_is_refused_at_add_task_with_the_fix(row: object, position: int) -> None:
    codec = codec_for(take_anything, "tests.take_anything")
    args: list[object] = [None, None]
    args[position] = row
    with pytest.raises(SerializationError, match="pass the row's id and load it inside the task"):
        codec.encode(tuple(args), {}, max_bytes=LIMIT)


def test_the_worker_refuses_loosely_typed_values_as_add_task_does() -> None:
    codec = codec_for(untyped, "tests.untyped")
    with pytest.raises(SerializationError, match="argument 'count': Input should be a valid int"):
        codec.encode(({},), {"count": "5"}, max_bytes=LIMIT)
    with pytest.raises(SerializationError, match="argument 'count': Input should be a valid int"):
        codec.decode({"args": [{}], "kwargs": {"count": "5"}}, max_bytes=LIMIT)


def _measured(args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
    """The size ``add_task`` measures, read from its refusal at a cap of 0 bytes."""
    with pytest.raises(SerializationError) as refused:
        CODEC.encode(args, kwargs, max_bytes=0)
    found = re.search(
        r"encode to (\d+) bytes, more than BGMIGRATE_MAX_PAYLOAD_BYTES=0", str(refused.value)
    )
    assert found, refused.value
    return int(found[1])


@given(calls)
def test_add_task_and_the_worker_measure_the_same_bytes_against_the_cap(
    call: tuple[Any, ...],
) -> None:
    *positional, numbers, note, scores = call
    args, kwargs = (*positional, *numbers), {"note": note, **scores}
    size = _measured(args, kwargs)
    payload = _wire(CODEC.encode(args, kwargs, max_bytes=size))
    CODEC.decode(payload, max_bytes=size)
    with pytest.raises(SerializationError, match=f"encode to {size} bytes"):
        CODEC.encode(args, kwargs, max_bytes=size - 1)
    with pytest.raises(SerializationError, match=f"encode to {size} bytes"):
        CODEC.decode(payload, max_bytes=size - 1)


class Counted(BaseModel):
    """Counts how often it is serialized."""

    value: int
    dumps: list[int] = []

    @field_serializer("value")
    def _count(self, value: int) -> int:
        self.dumps.append(value)
        return value


def test_each_argument_is_encoded_once() -> None:
    def take(counted: Counted) -> None:
        """A task taking a model that counts its serializations."""

    counted = Counted(value=7)
    codec_for(take, "tests.take_counted").encode((counted,), {}, max_bytes=LIMIT)
    assert counted.dumps == [7]


class Exploding:
    """Raises ``error`` whenever anything asks for its class (as ``isinstance`` checks do)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        raise self.error


class Picky(BaseModel):
    """A model whose validator and serializer raise what they are given."""

    value: int
    error: Any = None

    @field_validator("value")
    @classmethod
    def _check(cls, value: int) -> int:
        raise KeyError(value)

    @field_serializer("error")
    def _dump(self, error: Any) -> Any:
        if isinstance(error, Exception):
            raise error
        return error


class Blob(BaseModel):
    """Bytes in a model's default (UTF-8) JSON mode."""

    data: bytes


def _nested(depth: int, wrap: Callable[[Any], Any]) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = wrap(value)
    return value


def _cyclic_list() -> list[Any]:
    loop: list[Any] = []
    loop.append(loop)
    return loop


def _cyclic_dict() -> dict[str, Any]:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    return loop


errors = st.sampled_from([KeyError, RuntimeError, ZeroDivisionError, OSError, RecursionError])
hostile_values = st.one_of(
    st.builds(_cyclic_list),
    st.builds(_cyclic_dict),
    st.builds(_nested, st.just(100_000), st.just(lambda inner: [inner])),
    st.builds(_nested, st.just(100_000), st.just(lambda inner: {"a": inner})),
    st.builds(Exploding, st.builds(lambda error: error("boom"), errors)),
    st.builds(lambda error: Picky.model_construct(value=1, error=error("boom")), errors),
    st.builds(lambda data: Blob(data=data), st.binary(min_size=1)),
    st.sets(st.integers(), min_size=1),
    st.builds(object),
    st.floats(),
    st.text(),
    st.integers(min_value=-(10**6000), max_value=10**6000),
)


def take_hostile(value: Any, items: list[Any], picky: Picky | None = None, untyped=None) -> None:  # type: ignore[no-untyped-def]
    """A task with strict, loose and unannotated parameters."""


@settings(deadline=None)  # building 100,000-deep structures is slow on a loaded machine
@given(value=hostile_values, slot=st.sampled_from(["value", "items", "picky", "untyped"]))
def test_nothing_but_serialization_error_escapes_encode_or_decode(value: Any, slot: str) -> None:
    codec = codec_for(take_hostile, "tests.take_hostile")
    kwargs = {"value": None, "items": [], slot: [value] if slot == "items" else value}
    try:
        payload = codec.encode((), kwargs, max_bytes=LIMIT)
    except SerializationError:
        return
    with contextlib.suppress(SerializationError):
        codec.decode(_wire(payload), max_bytes=LIMIT)


def test_a_worker_refuses_a_huge_string_before_copying_it_into_json() -> None:
    codec = codec_for(untyped, "tests.untyped")
    huge = {"args": ["x" * (LIMIT + 1)], "kwargs": {}}
    with pytest.raises(SerializationError, match=f"at least {LIMIT + 1} bytes, more than"):
        codec.decode(huge, max_bytes=LIMIT)


class Extended(Resource):
    """A subclass with a field of its own."""

    region: str = "eu"


def test_a_subclass_with_fields_of_its_own_is_refused_where_the_hint_names_its_base() -> None:
    def take(resource: Resource) -> None:
        """A task taking the base model."""

    codec = codec_for(take, "tests.take_base")
    with pytest.raises(SerializationError, match=r"its fields \['region'\] would not be sent"):
        codec.encode((Extended(id=1),), {}, max_bytes=LIMIT)


@pytest.mark.parametrize(
    ("obj", "fields"),
    [("{}", {}), ("{}", {"x": 1}), ('{"a": [1, {}]}', {"x": {"y": None}}), ('{"x": 0}', {"x": 1})],
)
def test_fields_added_to_a_json_object_text_win_as_in_a_dict_merge(
    obj: str, fields: dict[str, Any]
) -> None:
    assert json.loads(with_fields(obj, fields)) == {**json.loads(obj), **fields}


def test_an_encoded_call_decodes_to_the_payload_it_stands_for() -> None:
    assert EncodedCall('[1, "a"]', '{"b": null}').decoded() == {
        "args": [1, "a"],
        "kwargs": {"b": None},
    }
