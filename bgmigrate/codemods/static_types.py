"""Static types, read per file: of ``add_task`` arguments, annotations and class fields.

A type is kept as the text of a Python expression whose names are fully qualified
(``uuid.UUID``, ``builtins.list[app.schemas.Item]``, ``app.db.User | None``), so that it is plain
data for the facts cache. What only the whole project can tell is left as a lookup for
``type_check`` to resolve: ``__attr__(T, 'name')`` is the type of attribute ``name`` of a ``T``,
``__iter__(T)`` the type of an item of a ``T`` iterated. Anything not known statically is
``None``: the check never guesses.
"""

from __future__ import annotations

import ast
import builtins
import dataclasses
import re
import warnings
from collections.abc import Iterator

from bgmigrate.codemods.names import Resolver, string_annotation

_BUILTINS = frozenset(dir(builtins))
_CONSTANTS = {bool: "builtins.bool", int: "builtins.int", float: "builtins.float"}
_CONSTANTS |= {str: "builtins.str", bytes: "builtins.bytes", type(None): "None"}
_LITERALS: dict[type[ast.expr], str] = {
    ast.JoinedStr: "builtins.str",
    ast.List: "builtins.list",
    ast.ListComp: "builtins.list",
    ast.Dict: "builtins.dict",
    ast.DictComp: "builtins.dict",
    ast.Set: "builtins.set",
    ast.SetComp: "builtins.set",
    ast.Tuple: "builtins.tuple",
}
RETURNS = {
    "builtins.len": "builtins.int",
    "builtins.repr": "builtins.str",
    "uuid.uuid1": "uuid.UUID",
    "uuid.uuid4": "uuid.UUID",
    "uuid.uuid5": "uuid.UUID",
    "datetime.datetime.now": "datetime.datetime",
    "datetime.datetime.utcnow": "datetime.datetime",
    "datetime.datetime.fromisoformat": "datetime.datetime",
    "datetime.date.today": "datetime.date",
    "json.dumps": "builtins.str",
}
"""Library functions and the type they return (constructors return their class)."""
_METHODS = {
    "model_dump": "builtins.dict",
    "dict": "builtins.dict",
    "model_dump_json": "builtins.str",
    "isoformat": "builtins.str",
}
"""Methods whose result type does not depend on their object (pydantic's dumps, dates)."""
_SPELLED = {
    "typing.List": "builtins.list",
    "typing.Dict": "builtins.dict",
    "typing.Set": "builtins.set",
    "typing.FrozenSet": "builtins.frozenset",
    "typing.Tuple": "builtins.tuple",
    "typing.Sequence": "builtins.list",
    "collections.abc.Sequence": "builtins.list",
}
_WRAPPERS = ("sqlalchemy.orm.Mapped", "typing.Annotated", "typing_extensions.Annotated")
"""Subscripts whose first argument is the type (the rest is metadata)."""
_COLUMN_TYPES = {
    "Integer": "builtins.int",
    "BigInteger": "builtins.int",
    "SmallInteger": "builtins.int",
    "String": "builtins.str",
    "Text": "builtins.str",
    "Unicode": "builtins.str",
    "Boolean": "builtins.bool",
    "Float": "builtins.float",
    "DateTime": "datetime.datetime",
    "Date": "datetime.date",
    "UUID": "uuid.UUID",
    "Uuid": "uuid.UUID",
}
"""SQLAlchemy column types (``Column(Integer)``, ``mapped_column(String)``) -> Python types."""


@dataclasses.dataclass(frozen=True)
class ClassTypes:
    """A class of the module: its bases and the types of its annotated fields."""

    qualname: str
    bases: tuple[str, ...]
    """Qualified names of the bases (unreadable ones as ``?``)."""
    fields: tuple[tuple[str, str], ...]
    """Field name -> type (``id: Mapped[int]``, ``name = Column(String)``)."""
    table: bool = False
    """It declares ``__tablename__``: an ORM row."""


def qualify(resolver: Resolver, node: ast.expr) -> str | None:
    """The qualified name of a ``Name``/``Attribute``, builtins as ``builtins.x``."""
    name = resolver.qualify(node)
    if name is None:
        return None
    if "." not in name and name in _BUILTINS and name not in resolver.definitions:
        return f"builtins.{name}"
    return _SPELLED.get(name, name)


def annotation(resolver: Resolver, node: ast.expr | None) -> str | None:
    """An annotation as a type (``Annotated[X, ...]``, ``Mapped[X]`` -> ``X``), or ``None``."""
    if node is None:
        return None
    parsed = string_annotation(node)
    if parsed is not None:
        return annotation(resolver, parsed)
    if isinstance(node, ast.Constant) and node.value is None:
        return "None"
    if isinstance(node, ast.Name | ast.Attribute):
        return qualify(resolver, node)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _union(annotation(resolver, node.left), annotation(resolver, node.right))
    if isinstance(node, ast.Subscript):
        return _subscript(resolver, node)
    return None


def _subscript(resolver: Resolver, node: ast.Subscript) -> str | None:
    origin = qualify(resolver, node.value)
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    if origin is None:
        return None
    if origin in _WRAPPERS:
        return annotation(resolver, items[0])
    if resolver.is_typing(node.value, "Optional"):
        return _union(annotation(resolver, items[0]), "None")
    if resolver.is_typing(node.value, "Union"):
        return _union(*(annotation(resolver, item) for item in items))
    if resolver.is_typing(node.value, "Literal"):
        return None
    args = [
        "..." if isinstance(i, ast.Constant) and i.value is Ellipsis else annotation(resolver, i)
        for i in items
    ]
    if any(a is None for a in args):
        return origin
    return f"{origin}[{', '.join(a for a in args if a)}]"


def _union(*members: str | None) -> str | None:
    """``A | B``, or ``None`` when a member is not known."""
    if any(m is None for m in members):
        return None
    return " | ".join(dict.fromkeys(m for m in members if m))


def module_classes(resolver: Resolver, tree: ast.Module) -> tuple[ClassTypes, ...]:
    """The module-level classes with their bases and field types (also those defined in
    ``if``/``try`` blocks, as ``class User`` under ``if AUTH_TYPE == "GOOGLE":``)."""
    found: dict[str, ClassTypes] = {}
    for stmt in _module_statements(tree.body):
        if isinstance(stmt, ast.ClassDef):
            found.setdefault(stmt.name, _class(resolver, stmt))
    return tuple(found.values())


def _module_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.If | ast.Try):
            for block in (stmt.body, stmt.orelse, getattr(stmt, "finalbody", [])):
                yield from _module_statements(block)
            for handler in getattr(stmt, "handlers", []):
                yield from _module_statements(handler.body)


def _class(resolver: Resolver, node: ast.ClassDef) -> ClassTypes:
    bases = tuple(qualify(resolver, b) or "?" for b in node.bases)
    fields: dict[str, str] = {}
    table = False
    for stmt in node.body:
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            found = annotation(resolver, stmt.annotation)
            if found is not None:
                fields[stmt.target.id] = found
        elif isinstance(stmt, ast.Assign):
            names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            table = table or "__tablename__" in names
            column = _column(stmt.value)
            fields.update(dict.fromkeys(names, column) if column else {})
    return ClassTypes(node.name, bases, tuple(fields.items()), table)


def _column(value: ast.expr) -> str | None:
    """The Python type of ``Column(Integer, ...)`` / ``mapped_column(String(50))``."""
    if not isinstance(value, ast.Call) or not value.args:
        return None
    callee = str(getattr(value.func, "id", None) or getattr(value.func, "attr", "")).lower()
    if callee not in ("column", "mapped_column"):
        return None
    first = value.args[0]
    kind = first.func if isinstance(first, ast.Call) else first
    name = getattr(kind, "id", None) or getattr(kind, "attr", None)
    return _COLUMN_TYPES.get(name or "")


def type_aliases(resolver: Resolver, tree: ast.Module) -> tuple[tuple[str, str], ...]:
    """Module-level aliases of types (``UserId = Annotated[UUID, Path()]``) -> the type."""
    found = {}
    for stmt in tree.body:
        target, value = None, None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and resolver.is_typing(stmt.annotation, "TypeAlias"):
            target, value = stmt.target, stmt.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Subscript | ast.BinOp):
            read = annotation(resolver, value)
            if read is not None:
                found[target.id] = read
    return tuple(sorted(found.items()))


_TYPE_PARAMS = re.compile(rb"^([ \t]*(?:async[ \t]+)?(?:class|def)[ \t]+\w+)\[[^\]\n]*\]", re.M)
_TYPE_STATEMENT = re.compile(rb"^type[ \t]+\w+.*$", re.M)


def lenient(
    source: bytes, module: str, is_package: bool
) -> tuple[tuple[ClassTypes, ...], tuple[tuple[str, str], ...]]:
    """Classes and type aliases of a file this Python cannot parse, read without its PEP 695
    type parameters (``class Page[T](BaseModel)``) when that is what stops it; else none.
    The file stays reported as unparsable: only its classes' field types are used."""
    stripped = _TYPE_STATEMENT.sub(b"", _TYPE_PARAMS.sub(rb"\1", source))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(stripped)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return (), ()
    resolver = Resolver(tree, module, is_package)
    return module_classes(resolver, tree), type_aliases(resolver, tree)


class LocalTypes:
    """The static types of expressions inside one function."""

    def __init__(
        self, resolver: Resolver, node: ast.FunctionDef | ast.AsyncFunctionDef | None
    ) -> None:
        self.resolver = resolver
        self.names: dict[str, list[str | None]] = {}
        if node is None:
            return
        args = node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            self.names[arg.arg] = [annotation(resolver, arg.annotation)]
        # In source order: a name is read with the bindings made before it.
        for child in sorted(_own_nodes(node), key=_position):
            for target, how, value in _bindings(child):
                self.names.setdefault(target, []).append(self._bound(how, value))

    def _bound(self, how: str, value: ast.expr | None) -> str | None:
        if value is None:
            return None
        if how == "annotated":
            return annotation(self.resolver, value)
        if how == "item":
            source = self.infer(value)
            return f"__iter__({source})" if source else None
        return self.infer(value) if how == "value" else None

    def infer(self, node: ast.expr) -> str | None:
        """The type of ``node`` (see the module docstring), or ``None`` when not known."""
        for kind, text in _LITERALS.items():
            if isinstance(node, kind):
                return text
        if isinstance(node, ast.Constant):
            return _CONSTANTS.get(type(node.value))
        if isinstance(node, ast.Name):
            return self._name(node.id)
        if isinstance(node, ast.Attribute):
            base = self.infer(node.value)
            return f"__attr__({base}, {node.attr!r})" if base else None
        if isinstance(node, ast.Call):
            return self._call(node)
        if isinstance(node, ast.IfExp):
            return _union(self.infer(node.body), self.infer(node.orelse))
        if isinstance(node, ast.Await) and isinstance(node.value, ast.Call):
            return self._call(node.value, awaited=True)
        return None

    def _name(self, name: str) -> str | None:
        bound = self.names.get(name)
        if not bound:
            return None
        # Every binding of the name must agree (assigned in branches, reassigned in a loop).
        known = set(bound)
        return known.pop() if len(known) == 1 else None

    def _call(self, node: ast.Call, awaited: bool = False) -> str | None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _METHODS and not awaited:
            return _METHODS[func.attr]
        name = qualify(self.resolver, func) if isinstance(func, ast.Name | ast.Attribute) else None
        if name is None or name.partition(".")[0] in self.names:
            return None
        if name in RETURNS or _is_type(name):
            return None if awaited else RETURNS.get(name, name)
        if name.rpartition(".")[2][:1].isupper():
            # A class called is its instance (``UUID(x)``, ``Item(**data)``); the project
            # pass keeps only names it knows are classes.
            return None if awaited else name
        # A function of the tree returns its return annotation (awaited, for ``async def``).
        return f"__returns__({name}, {awaited})"


def _is_type(name: str) -> bool:
    return name.startswith("builtins.") and isinstance(getattr(builtins, name[9:], None), type)


def _bindings(node: ast.AST) -> Iterator[tuple[str, str, ast.expr | None]]:
    """``(name, how, expression)`` for each local name ``node`` binds: ``value`` (assigned
    ``expression``), ``annotated`` (declared with it), ``item`` (a loop over it), ``unknown``."""
    single = _single_binding(node)
    if single is not None:
        yield single
        return
    if isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name, "unknown", None
    for target in _targets(node):
        for element in ast.walk(target):
            # ``order.total = 1`` and ``items[0] = x`` rebind nothing: only stored names count.
            if isinstance(element, ast.Name) and isinstance(element.ctx, ast.Store):
                yield element.id, "unknown", None


def _single_binding(node: ast.AST) -> tuple[str, str, ast.expr] | None:
    if isinstance(node, ast.Assign) and len(node.targets) == 1:
        target = node.targets[0]
        return (target.id, "value", node.value) if isinstance(target, ast.Name) else None
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        return node.target.id, "annotated", node.annotation
    if isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
        target = node.target
        return (target.id, "item", node.iter) if isinstance(target, ast.Name) else None
    return None


def _targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return node.targets
    if isinstance(node, ast.withitem):
        return [node.optional_vars] if node.optional_vars is not None else []
    if isinstance(node, ast.AugAssign | ast.NamedExpr | ast.For | ast.AsyncFor):
        return [node.target]
    return [node.target] if isinstance(node, ast.comprehension | ast.AnnAssign) else []


def _position(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0), getattr(node, "col_offset", 0)


def _own_nodes(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """Nodes of the function's own body (nested functions and classes left out)."""
    stack: list[ast.AST] = list(node.body)
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(child))
