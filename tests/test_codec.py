"""Arguments survive the JSON round trip as the annotated types, and bad ones are refused."""

from __future__ import annotations

import enum
import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from bgmigrate.codec import codec_for
from bgmigrate.errors import SerializationError


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
    st.dictionaries(st.text(min_size=1).filter(lambda k: k != "note"), st.floats(allow_nan=False)),
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
