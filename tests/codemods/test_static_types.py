"""Static types read from one file: arguments, annotations, class fields."""

from __future__ import annotations

import ast
import textwrap

import pytest

from bgmigrate.codemods.names import Resolver
from bgmigrate.codemods.static_types import (
    ClassTypes,
    LocalTypes,
    annotation,
    lenient,
    module_classes,
    type_aliases,
)

HEADER = """
import uuid
from datetime import datetime
from typing import Annotated, Optional, Union
from uuid import UUID

from fastapi import Depends
from sqlalchemy.orm import Mapped

from app.models import Item, User
from app.deps import CurrentUser
"""


def _types(body: str) -> tuple[LocalTypes, dict[str, ast.expr]]:
    """The local types of ``def f`` in HEADER + ``body``, and the values of its ``probe_*``
    names (``probe_x = <expression>``)."""
    tree = ast.parse(textwrap.dedent(HEADER) + textwrap.dedent(body))
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef))
    probes = {
        n.targets[0].id: n.value
        for n in ast.walk(function)
        if isinstance(n, ast.Assign)
        and isinstance(n.targets[0], ast.Name)
        and n.targets[0].id.startswith("probe_")
    }
    return LocalTypes(Resolver(tree, "app.views", False), function), probes


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("1", "builtins.int"),
        ("'a'", "builtins.str"),
        ("f'{user}'", "builtins.str"),
        ("None", "None"),
        ("[1, 2]", "builtins.list"),
        ("{'a': 1}", "builtins.dict"),
        ("(1, 2)", "builtins.tuple"),
        ("str(user)", "builtins.str"),
        ("len(items)", "builtins.int"),
        ("uuid.uuid4()", "uuid.UUID"),
        ("UUID(text)", "uuid.UUID"),
        ("datetime.now()", "datetime.datetime"),
        ("Item(sku='a')", "app.models.Item"),
        ("item.model_dump()", "builtins.dict"),
        ("user", "app.models.User"),
        ("user.id", "__attr__(app.models.User, 'id')"),
        ("current", "app.deps.CurrentUser"),
        ("chosen", "app.models.Item"),
        ("order_id", "builtins.int | None"),
        ("1 if flag else 'a'", "builtins.int | builtins.str"),
    ],
)
def test_argument_types_come_from_literals_calls_and_annotations(
    expression: str, expected: str
) -> None:
    local, probes = _types(
        f"""
        def f(user: User, current: CurrentUser, order_id: Optional[int], items, text, flag):
            chosen = Item(sku="a")
            user.name = "changed"  # sets an attribute: ``user`` is still the same User
            probe_x = {expression}
        """
    )
    assert local.infer(probes["probe_x"]) == expected


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("load_user(1)", "__returns__(load_user, False)"),
        ("await fetch()", "__returns__(fetch, True)"),
        ("helper.run()", "__returns__(helper.run, False)"),
    ],
)
def test_a_function_call_is_left_to_the_project_pass(expression: str, expected: str) -> None:
    local, probes = _types(f"def f():\n    probe_x = {expression}\n")
    assert local.infer(probes["probe_x"]) == expected


def test_a_loop_variable_is_an_item_of_what_the_loop_iterates() -> None:
    local, probes = _types(
        """
        def f(order: Annotated[Order, Depends(load)]):
            for line in order.lines:
                probe_x = line
        """
    )
    assert local.infer(probes["probe_x"]) == "__iter__(__attr__(Order, 'lines'))"


@pytest.mark.parametrize(
    "expression",
    ["items[0]", "await Item()", "await str(x)", "changing", "untyped", "a"],
)
def test_what_cannot_be_known_statically_stays_unknown(expression: str) -> None:
    local, probes = _types(
        f"""
        async def f(untyped, flag: bool):
            changing = 1
            if flag:
                changing = "one"
            a, b = pair()
            probe_x = {expression}
        """
    )
    assert local.infer(probes["probe_x"]) is None


def _annotation(text: str) -> str | None:
    tree = ast.parse(textwrap.dedent(HEADER) + f"x: {text}\n")
    node = tree.body[-1]
    assert isinstance(node, ast.AnnAssign)
    return annotation(Resolver(tree, "app.views", False), node.annotation)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("int", "builtins.int"),
        ("Optional[UUID]", "uuid.UUID | None"),
        ("Union[int, str]", "builtins.int | builtins.str"),
        ("Annotated[User, Depends(get_user)]", "app.models.User"),
        ("Mapped[int]", "builtins.int"),
        ("list[Item] | None", "builtins.list[app.models.Item] | None"),
        ("'User'", "app.models.User"),
        ("dict[str, int]", "builtins.dict[builtins.str, builtins.int]"),
    ],
)
def test_annotations_read_as_qualified_types(text: str, expected: str) -> None:
    assert _annotation(text) == expected


def test_classes_give_their_bases_and_field_types_also_when_defined_in_a_branch() -> None:
    source = textwrap.dedent(
        """
        from sqlalchemy import Column, Integer, String
        from fastapi_users.db import SQLAlchemyBaseUserTableUUID
        from app.db import Base

        if GOOGLE:
            class User(SQLAlchemyBaseUserTableUUID, Base):
                __tablename__ = "user"
                name = Column(String(50))
                score = Column(Integer, default=0)
        """
    )
    tree = ast.parse(source)
    (user,) = module_classes(Resolver(tree, "app.models", False), tree)
    assert user == ClassTypes(
        "User",
        ("fastapi_users.db.SQLAlchemyBaseUserTableUUID", "app.db.Base"),
        (("name", "builtins.str"), ("score", "builtins.int")),
        table=True,
    )


def test_type_aliases_are_read() -> None:
    tree = ast.parse(textwrap.dedent(HEADER) + "UserId = Annotated[UUID, Depends(x)]\n")
    assert type_aliases(Resolver(tree, "app.views", False), tree) == (("UserId", "uuid.UUID"),)


def test_a_file_with_pep_695_generics_still_gives_its_classes() -> None:
    source = b"from pydantic import BaseModel\n\nclass Page[T](BaseModel):\n    total: int\n"
    classes, _ = lenient(source, "app.schemas", False)
    assert classes == (ClassTypes("Page", ("pydantic.BaseModel",), (("total", "builtins.int"),)),)
