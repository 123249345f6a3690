"""Results and failures as JSON between worker and handle."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from bgmigrate.adapters.results import (
    decode_registered,
    decode_result,
    describe_error,
    encode_result,
    task_failed,
)
from bgmigrate.errors import SerializationError, TaskFailed
from bgmigrate.testing import conformance_tasks as tasks


def returns_datetime() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)


def returns_uuids() -> dict[str, UUID]:
    return {}


def unannotated():  # type: ignore[no-untyped-def]
    return None


def test_results_come_back_as_the_annotated_type() -> None:
    value = datetime(2026, 1, 1, 12, tzinfo=UTC)
    encoded = encode_result(returns_datetime, value)
    assert encoded == "2026-01-01T12:00:00Z"
    assert decode_result(returns_datetime, encoded) == value
    ident = UUID(int=7)
    assert decode_result(returns_uuids, encode_result(returns_uuids, {"a": ident})) == {"a": ident}


def test_an_unannotated_result_must_be_plain_json() -> None:
    assert decode_result(unannotated, encode_result(unannotated, [1, "a"])) == [1, "a"]
    with pytest.raises(SerializationError, match="annotate the return type"):
        encode_result(unannotated, object())


def test_a_failure_names_the_exception_type_without_importing_it() -> None:
    error = describe_error(KeyError("missing"))
    assert error == {"type": "builtins.KeyError", "message": "'missing'"}
    failed = task_failed("app.tasks.send", {"type": "app.errors.Bounce", "message": "no mx"})
    assert isinstance(failed, TaskFailed)
    assert failed.exc_type == "app.errors.Bounce"
    assert str(failed) == "task app.tasks.send failed: app.errors.Bounce: no mx"


def test_a_result_of_a_task_not_registered_here_is_plain_json() -> None:
    assert decode_registered("elsewhere.task", {"a": 1}) == {"a": 1}
    item = {"name": "x", "price": "1.5", "tags": []}
    assert decode_registered(tasks.typed.name, item) == tasks.Item(
        name="x", price=Decimal("1.5"), tags=()
    )
