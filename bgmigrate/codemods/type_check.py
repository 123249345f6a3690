"""Static types resolved across the project, compared with what the codec accepts.

The codec (``bgmigrate.codec``) validates each argument strictly against its parameter's hint
and refuses, on an unannotated parameter, anything that is not plain JSON. This module decides
the same statically where the types are known: a ``UUID`` given to ``user_id: int``, a
pydantic model given to an unannotated parameter. Where a type is not known (a library class
it has no table for, an expression it cannot read), the answer is "unknown", never a finding.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Iterable
from typing import TypeVar

from bgmigrate.codemods.facts import FileFacts
from bgmigrate.codemods.index import FunctionIndex
from bgmigrate.codemods.static_types import ClassTypes

T = TypeVar("T")
_MAX_HOPS = 4
_MAX_DEPTH = 8

PLAIN = frozenset(
    {"builtins.str", "builtins.int", "builtins.float", "builtins.bool", "None"}
    | {"builtins.list", "builtins.dict"}
)
"""Types whose values the codec carries on an unannotated parameter (plain JSON)."""
KNOWN = PLAIN | {
    "builtins.bytes",
    "builtins.tuple",
    "builtins.set",
    "builtins.frozenset",
    "uuid.UUID",
    "datetime.datetime",
    "datetime.date",
    "datetime.time",
    "datetime.timedelta",
    "decimal.Decimal",
    "pathlib.Path",
}
"""Library types whose values the codec's strict validation is known for."""
ANY = frozenset({"typing.Any", "typing_extensions.Any", "builtins.object"})
_ACTS_AS = {
    "builtins.str": "builtins.str",
    "builtins.int": "builtins.int",
    "enum.StrEnum": "builtins.str",
    "enum.IntEnum": "builtins.int",
}
"""Bases that make a class's instances values of a builtin (``class Kind(str, Enum)``)."""
KNOWN_BASES = frozenset(
    {
        "builtins.object",
        "enum.Enum",
        "pydantic.BaseModel",
        "pydantic.main.BaseModel",
        "sqlmodel.SQLModel",
        "sqlalchemy.orm.DeclarativeBase",
        "sqlalchemy.ext.asyncio.AsyncAttrs",
    }
)
"""Library bases of classes whose instances are objects (never plain JSON, never a builtin)."""
_USER = {"id": "uuid.UUID", "email": "builtins.str", "is_active": "builtins.bool"}
_OAUTH = {"id": "uuid.UUID", "user_id": "uuid.UUID"}
LIBRARY_FIELDS = {
    "fastapi_users_db_sqlalchemy.SQLAlchemyBaseUserTableUUID": _USER,
    "fastapi_users.db.SQLAlchemyBaseUserTableUUID": _USER,
    "fastapi_users_db_sqlalchemy.SQLAlchemyBaseOAuthAccountTableUUID": _OAUTH,
    "fastapi_users.db.SQLAlchemyBaseOAuthAccountTableUUID": _OAUTH,
    "fastapi_users_db_sqlmodel.SQLModelBaseUserDB": _USER,
}
"""Fields of library base classes of ORM rows (fastapi-users' user tables, which the
``fastapi_users.db`` package re-exports)."""
_ITERABLES = frozenset(
    {"builtins.list", "builtins.set", "builtins.frozenset", "builtins.tuple", "builtins.dict"}
    | {"collections.abc.Iterable", "typing.Iterable", "collections.abc.Sequence"}
)


@dataclasses.dataclass(frozen=True)
class Member:
    """One type of a union: a qualified name and its arguments (``list[int]``)."""

    name: str
    args: tuple[Member, ...] = ()

    def spell(self) -> str:
        """The type as a hint spells it, by its short names (``list[Item] | None``)."""
        short = self.name.rpartition(".")[2]
        return f"{short}[{', '.join(a.spell() for a in self.args)}]" if self.args else short


Union = tuple[Member, ...]
"""A resolved type: its members (one for a plain type)."""


def spell(union: Union) -> str:
    """``A | B`` by short names."""
    return " | ".join(m.spell() for m in union)


class TypeTable:
    """Classes and type aliases of the analysed files, and the types they lead to."""

    def __init__(self, index: FunctionIndex) -> None:
        self.index = index
        self.unread: set[str] = set()
        """Names whose lookup stopped at a file not analysed yet (``follow_types`` reads
        them)."""
        self._resolved: dict[str, Union | None] = {}

    def _find(self, qualified: str, pick: Callable[[FileFacts, str], T | None]) -> T | None:
        for _ in range(_MAX_HOPS):
            split = self.index.modules.split(qualified)
            facts = self.index.facts.get(split[0].display_path) if split else None
            if split is None or facts is None:
                if split is not None:
                    self.unread.add(qualified)
                return None
            picked = pick(facts, split[1])
            if picked is not None:
                return picked
            head, _, tail = split[1].partition(".")
            imported = dict(facts.imports).get(head)
            if imported is None:
                return None
            qualified = f"{imported}.{tail}" if tail else imported
        return None

    def cls(self, qualified: str) -> tuple[str, ClassTypes] | None:
        """``(canonical qualified name, class)`` of a class of the tree."""

        def pick(facts: FileFacts, rest: str) -> tuple[str, ClassTypes] | None:
            found = next((c for c in facts.classes if c.qualname == rest), None)
            return (f"{facts.module}.{rest}".lstrip("."), found) if found else None

        return self._find(qualified, pick)

    def alias(self, qualified: str) -> str | None:
        """The type a type alias of the tree stands for."""
        return self._find(qualified, lambda facts, rest: dict(facts.type_aliases).get(rest))

    def resolve(self, text: str | None) -> Union | None:
        """The members of the type ``text`` (``static_types`` form), or ``None``."""
        if text is None:
            return None
        if text not in self._resolved:  # many arguments and hints share a type
            self._resolved[text] = self.resolve_at(text, 0)
        return self._resolved[text]

    def _node(self, node: ast.expr, depth: int) -> Union | None:
        if depth > _MAX_DEPTH:
            return None
        if isinstance(node, ast.BinOp):
            left, right = self._node(node.left, depth + 1), self._node(node.right, depth + 1)
            return tuple(dict.fromkeys((*left, *right))) if left and right else None
        if isinstance(node, ast.Constant) and node.value is None:
            return (Member("None"),)
        if isinstance(node, ast.Subscript):
            origin = self._node(node.value, depth + 1)
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            args = [self._node(i, depth + 1) for i in items if not isinstance(i, ast.Constant)]
            if origin is None or len(origin) != 1:
                return None
            known = tuple(a[0] for a in args if a and len(a) == 1)
            return (Member(origin[0].name, known if len(known) == len(args) else ()),)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            return self._lookup(node, depth)
        name = ast.unparse(node)
        alias = self.alias(name)
        if alias is not None:
            return self.resolve_at(alias, depth + 1)
        found = self.cls(name)
        return (Member(found[0] if found else name),)

    def resolve_at(self, text: str, depth: int) -> Union | None:
        """``resolve`` one level deeper (aliases of aliases stay bounded)."""
        try:
            return self._node(ast.parse(text, mode="eval").body, depth)
        except SyntaxError:
            return None

    def _lookup(self, node: ast.Call, depth: int) -> Union | None:
        """``__attr__(T, 'name')``, ``__iter__(T)`` and ``__returns__(f, awaited)``."""
        assert isinstance(node.func, ast.Name)
        if node.func.id == "__returns__":
            return self._returns(node, depth)
        base = self._node(node.args[0], depth + 1) if node.args else None
        if base is None:
            return None
        if node.func.id == "__iter__":
            return _gather(_item(m) for m in base)
        attr = node.args[1] if len(node.args) > 1 else None
        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
            return None
        name = attr.value
        return _gather(self._field_union(m.name, name, depth) for m in base if m.name != "None")

    def _returns(self, node: ast.Call, depth: int) -> Union | None:
        """What a call of a function of the tree gives: its return annotation (a coroutine,
        not known here, for an ``async def`` not awaited)."""
        if len(node.args) != 2 or not isinstance(node.args[1], ast.Constant):
            return None
        name = ast.unparse(node.args[0])
        found = self.index.resolve(name)
        if found is None and self.index.unread(name) is not None:
            self.unread.add(name)
        if found is None or found[1].is_async is not node.args[1].value:
            return None
        return self.resolve_at(found[1].return_type, depth + 1) if found[1].return_type else None

    def _field_union(self, cls: str, attr: str, depth: int) -> Union | None:
        text = self.field(cls, attr)
        return self.resolve_at(text, depth + 1) if text else None

    def field(self, cls: str, attr: str, depth: int = 0) -> str | None:
        """The type of field ``attr`` of class ``cls`` (through its bases), or ``None``."""
        if cls in LIBRARY_FIELDS:
            return LIBRARY_FIELDS[cls].get(attr)
        found = self.cls(cls)
        if found is None or depth > _MAX_DEPTH:
            return None
        own = dict(found[1].fields).get(attr)
        if own is not None:
            return own
        for base in found[1].bases:
            inherited = self.field(base, attr, depth + 1)
            if inherited is not None:
                return inherited
        return None

    def acts_as(self, name: str, depth: int = 0) -> str | None:
        """What a value of type ``name`` is to the codec: a ``KNOWN`` type, ``"object"`` (an
        instance of a class of the tree that is neither plain JSON nor a builtin), or ``None``
        when not known."""
        if name in KNOWN or name in ANY:
            return name
        found = self.cls(name)
        if found is None or depth > _MAX_DEPTH:
            return None
        kinds = {self._base_acts_as(base, depth) for base in found[1].bases}
        builtin = kinds & set(_ACTS_AS.values())
        if builtin:
            return builtin.pop()
        return "object" if None not in kinds or found[1].table else None

    def _base_acts_as(self, base: str, depth: int) -> str | None:
        if base in _ACTS_AS:
            return _ACTS_AS[base]
        if base in KNOWN_BASES or base in LIBRARY_FIELDS:
            return "object"
        return self.acts_as(base, depth + 1)

    def subclass(self, name: str, of: str, depth: int = 0) -> bool:
        """Whether class ``name`` is ``of`` or derives from it (through classes of the tree)."""
        if name == of:
            return True
        found = self.cls(name)
        if found is None or depth > _MAX_DEPTH:
            return False
        return any(self.subclass(self._canonical(b), of, depth + 1) for b in found[1].bases)

    def adds_fields(self, name: str, to: str, depth: int = 0) -> bool:
        """Whether class ``name`` or a base of it below ``to`` declares fields."""
        found = self.cls(name)
        if name == to or found is None or depth > _MAX_DEPTH:
            return False
        if found[1].fields:
            return True
        return any(self.adds_fields(self._canonical(b), to, depth + 1) for b in found[1].bases)

    def _canonical(self, name: str) -> str:
        found = self.cls(name)
        return found[0] if found else name


def _item(member: Member) -> Union | None:
    """The type of an item of ``member`` iterated."""
    if member.name == "builtins.str":
        return (member,)
    if member.name in _ITERABLES and member.args:
        return (member.args[0],)
    return None


def _gather(unions: Iterable[Union | None]) -> Union | None:
    members: list[Member] = []
    for union in unions:
        if union is None:
            return None
        members.extend(union)
    return tuple(dict.fromkeys(members)) or None


def accepts(table: TypeTable, hint: Union, given: Member) -> bool | None:
    """Whether the codec takes a ``given`` value for a parameter hinted ``hint`` (``None``:
    not known)."""
    answers = {_accepts(table, h, given) for h in hint}
    if True in answers:
        return True
    return None if None in answers else False


def _accepts(table: TypeTable, hint: Member, given: Member) -> bool | None:
    want, have = table.acts_as(hint.name), table.acts_as(given.name)
    if want in ANY:
        return True
    if want is None or have is None:
        return None
    if hint.name == given.name or (want == have and want != "object"):
        return True
    if want == "builtins.float" and have in ("builtins.int", "decimal.Decimal"):
        return True
    if want == "object":
        # A dict validates into a model; a class of the tree into its base, unless it adds
        # fields (sent as the base, they would be lost: the codec refuses it).
        if have == "builtins.dict":
            return True
        return table.subclass(given.name, hint.name) and not table.adds_fields(
            given.name, hint.name
        )
    return False


def plain(table: TypeTable, given: Member) -> bool | None:
    """Whether a ``given`` value is plain JSON (what an unannotated parameter carries)."""
    acts = table.acts_as(given.name)
    if acts is None or acts in ANY:
        return None
    return acts in PLAIN
