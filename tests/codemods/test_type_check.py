"""The static check agrees with the codec: what it calls refused, ``add_task`` refuses."""

from __future__ import annotations

import textwrap
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bgmigrate.codec import codec_for
from bgmigrate.codemods.discovery import SourceFile
from bgmigrate.codemods.facts import Hints
from bgmigrate.codemods.finder import analyze
from bgmigrate.codemods.index import FunctionIndex, ModuleIndex
from bgmigrate.codemods.type_check import Member, TypeTable, accepts, plain
from bgmigrate.errors import SerializationError

VALUES: dict[str, Any] = {
    "builtins.int": 1,
    "builtins.str": "a",
    "builtins.float": 1.5,
    "builtins.bool": True,
    "None": None,
    "builtins.bytes": b"a",
    "builtins.list": [1],
    "builtins.dict": {"a": 1},
    "builtins.tuple": (1,),
    "uuid.UUID": uuid.UUID(int=1),
    "datetime.datetime": datetime(2024, 1, 1, tzinfo=UTC),
    "datetime.date": date(2024, 1, 1),
    "decimal.Decimal": Decimal("1.5"),
}
"""A value of each static type the check knows."""
HINTS: dict[str, Any] = {
    "builtins.int": int,
    "builtins.str": str,
    "builtins.float": float,
    "builtins.bool": bool,
    "builtins.bytes": bytes,
    "builtins.list": list,
    "builtins.dict": dict,
    "uuid.UUID": uuid.UUID,
    "datetime.datetime": datetime,
    "datetime.date": date,
    "decimal.Decimal": Decimal,
    "typing.Any": Any,
}
"""Each hint the check knows, as the task would write it."""
EMPTY = TypeTable(FunctionIndex(ModuleIndex([])))


def _taking(hint: Any) -> Callable[..., None]:
    def task(value: Any) -> None:
        del value

    if hint is None:
        del task.__annotations__["value"]
    else:
        task.__annotations__["value"] = hint
    return task


def _codec_takes(hint: Any, value: Any) -> bool:
    codec = codec_for(_taking(hint), "tests.task")
    try:
        codec.encode((value,), {}, max_bytes=1 << 20)
    except SerializationError:
        return False
    return True


@pytest.mark.parametrize("given", sorted(VALUES))
@pytest.mark.parametrize("hint", sorted(HINTS))
def test_accepts_agrees_with_the_codec(hint: str, given: str) -> None:
    predicted = accepts(EMPTY, (Member(hint),), Member(given))
    assert predicted is not None  # every pair of known types is decided
    assert predicted == _codec_takes(HINTS[hint], VALUES[given])


@pytest.mark.parametrize("given", sorted(VALUES))
def test_plain_agrees_with_the_codec_on_an_unannotated_parameter(given: str) -> None:
    assert plain(EMPTY, Member(given)) == _codec_takes(None, VALUES[given])


def test_a_library_class_the_check_has_no_table_for_is_unknown() -> None:
    assert accepts(EMPTY, (Member("builtins.int"),), Member("redis.Redis")) is None
    assert accepts(EMPTY, (Member("redis.Redis"),), Member("builtins.int")) is None
    assert plain(EMPTY, Member("redis.Redis")) is None


def _table(tmp_path: Path, sources: dict[str, str]) -> TypeTable:
    files = []
    for name, text in sources.items():
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(text))
        files.append(SourceFile(path, path.name, name))
    index = FunctionIndex(ModuleIndex(files))
    for source in files:
        index.add(
            analyze(source.abs_path.read_bytes(), source.display_path, source.module, Hints())
        )
    return TypeTable(index)


MODELS = """
import enum
import uuid
from pydantic import BaseModel
from sqlalchemy.orm import DeclarativeBase, Mapped
from fastapi_users.db import SQLAlchemyBaseUserTableUUID

class Base(DeclarativeBase):
    pass

class User(SQLAlchemyBaseUserTableUUID, Base):
    __tablename__ = "user"

class Kind(str, enum.Enum):
    A = "a"

class Item(BaseModel):
    kind: Kind

class Special(Item):
    extra: int

class Renamed(Item):
    pass

class Other(BaseModel):
    name: str

class Order(BaseModel):
    items: list[Item] | None
"""


def test_classes_of_the_tree_resolve_through_re_exports_fields_and_bases(tmp_path: Path) -> None:
    table = _table(tmp_path, {"models": MODELS, "api": "from models import User, Order\n"})
    assert table.resolve("__attr__(api.User, 'id')") == (Member("uuid.UUID"),)
    assert table.resolve("__iter__(__attr__(api.Order, 'items'))") is None  # may be None
    assert table.resolve("__attr__(models.Item, 'kind')") == (Member("models.Kind"),)
    assert table.resolve("__attr__(api.User, 'missing')") is None


def test_a_call_of_a_function_of_the_tree_is_its_return_annotation(tmp_path: Path) -> None:
    source = """
        from models import User

        def load(user_id: int) -> User: ...
        async def fetch(user_id: int) -> "User | None": ...
        def untyped(): ...
    """
    table = _table(tmp_path, {"models": MODELS, "service": source})
    assert table.resolve("__returns__(service.load, False)") == (Member("models.User"),)
    assert table.resolve("__returns__(service.fetch, True)") == (
        Member("models.User"),
        Member("None"),
    )
    assert table.resolve("__returns__(service.fetch, False)") is None  # a coroutine
    assert table.resolve("__returns__(service.untyped, False)") is None


def test_classes_of_the_tree_are_judged_as_the_codec_would(tmp_path: Path) -> None:
    table = _table(tmp_path, {"models": MODELS})
    item, special, other = Member("models.Item"), Member("models.Special"), Member("models.Other")
    kind, user = Member("models.Kind"), Member("models.User")
    assert accepts(table, (item,), Member("models.Renamed")) is True
    assert accepts(table, (item,), special) is False  # its own field would not be sent
    assert accepts(table, (item,), other) is False
    assert accepts(table, (item,), Member("builtins.dict")) is True
    assert accepts(table, (Member("builtins.str"),), kind) is True
    assert accepts(table, (Member("builtins.int"),), user) is False
    assert plain(table, item) is False
    assert plain(table, kind) is True
    assert plain(table, user) is False
