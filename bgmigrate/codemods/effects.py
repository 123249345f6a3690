"""What a function body does, as seen by the audit rules: calls made and process state written."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator, Mapping

from bgmigrate.codemods.facts import Call, Location, StateWrite
from bgmigrate.codemods.names import Resolver, dotted

MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "remove",
        "pop",
        "popitem",
        "clear",
        "update",
        "add",
        "discard",
        "setdefault",
        "sort",
        "reverse",
    }
)
"""Methods that change a list, dict or set in place."""


def location(node: ast.expr | ast.stmt) -> Location:
    """The start of ``node``."""
    return Location(node.lineno, node.col_offset)


Nodes = list[tuple[ast.AST, bool, ast.AST | None]]
"""``own_nodes`` of one body, listed once and shared by every pass over it."""


def own_nodes(body: list[ast.stmt]) -> Iterator[tuple[ast.AST, bool, ast.AST | None]]:
    """``(node, in_loop, parent)`` for every node of ``body``, not entering nested scopes."""
    stack: list[tuple[ast.AST, bool, ast.AST | None]] = [(s, False, None) for s in reversed(body)]
    while stack:
        node, in_loop, parent = stack.pop()
        yield node, in_loop, parent
        scope = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
        if isinstance(node, scope):
            continue
        loop = in_loop or isinstance(node, ast.For | ast.AsyncFor | ast.While | ast.comprehension)
        children = list(ast.iter_child_nodes(node))
        stack.extend((child, loop, node) for child in reversed(children))


def callee_name(resolver: Resolver, func: ast.expr, instances: Mapping[str, str]) -> str:
    """Resolved name of a callee (a method of a known instance by its class:
    ``httpx.AsyncClient.post``, also of an attribute of ``self``), or its (shortened) source
    text when it has none."""
    name = dotted(func)
    parts = (name or "").split(".")
    pair = ".".join(parts[:2])
    if len(parts) > 2 and pair in instances:
        # ``self.session.post`` with ``self.session = requests.Session()``
        return ".".join([instances[pair], *parts[2:]])
    head, _, rest = (name or "").partition(".")
    if head in instances and rest:
        return f"{instances[head]}.{rest}"
    qual = resolver.qualify(func)
    if qual is not None:
        return qual
    text = ast.unparse(func)
    return text if len(text) <= 80 else text[:77] + "..."


def bindings(node: ast.AST) -> list[tuple[ast.expr, ast.expr]]:
    """``(target, value)`` pairs bound by an assignment or a ``with ... as`` item."""
    if isinstance(node, ast.Assign):
        return [(target, node.value) for target in node.targets]
    if isinstance(node, ast.AnnAssign) and node.value is not None:
        return [(node.target, node.value)]
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return [(node.optional_vars, node.context_expr)]
    return []


def instances(resolver: Resolver, nodes: Iterable[ast.AST]) -> dict[str, str]:
    """Names bound to a constructor's result (``client = httpx.Client()``, ``async with
    httpx.AsyncClient() as client``) -> the constructor's resolved name."""
    found: dict[str, str] = {}
    for node in nodes:
        for target, value in bindings(node):
            value = value.value if isinstance(value, ast.Await) else value
            if isinstance(target, ast.Name) and isinstance(value, ast.Call):
                constructor = resolver.qualify(value.func)
                if constructor is not None:
                    found[target.id] = constructor
    return found


def classes(found: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``instances`` whose constructor is a class (its name is capitalised:
    ``SyncService()``, not ``get_service()``)."""
    return {name: ctor for name, ctor in found.items() if ctor.rpartition(".")[2][:1].isupper()}


def body_calls(
    resolver: Resolver, nodes: Nodes, module_instances: Mapping[str, str]
) -> tuple[Call, ...]:
    """Every call in ``body`` with its resolved callee name (methods of objects built here or
    at module level are named by the constructor: ``httpx.AsyncClient.post``)."""
    known = {**module_instances, **instances(resolver, (node for node, _, _ in nodes))}
    per_item = _per_item(nodes)
    calls = [
        Call(
            name,
            location(node),
            in_loop,
            _source_text(node.func, name),
            isinstance(parent, ast.Expr),
            id(node) in per_item,
            _opens_for_writing(node),
            _given_callables(resolver, node),
        )
        for node, in_loop, parent in nodes
        if isinstance(node, ast.Call)
        for name in [callee_name(resolver, node.func, known)]
    ]
    return tuple(calls)


def _given_callables(resolver: Resolver, node: ast.Call) -> tuple[tuple[str, str], ...]:
    """The arguments of ``node`` that name something of the module's namespace (a function
    or class, imported or defined): ``(position or keyword, qualified name)``."""
    given = [(str(i), a) for i, a in enumerate(node.args)]
    given += [(k.arg, k.value) for k in node.keywords if k.arg]
    found = []
    for key, value in given:
        if isinstance(value, ast.Name | ast.Attribute):
            head = _base_name(value)
            if head in resolver.imports or head in resolver.definitions:
                qualified = resolver.qualify(value)
                if qualified is not None:
                    found.append((key, qualified))
    return tuple(found)


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _per_item(nodes: Nodes) -> set[int]:
    """``id`` of every call of ``nodes`` that runs once per item of a ``for`` loop or a
    comprehension."""
    found: set[int] = set()
    for node, _, _ in nodes:
        if isinstance(node, ast.For | ast.AsyncFor):
            inner = own_nodes([*node.body, *node.orelse])
        elif isinstance(node, _COMPREHENSIONS):
            parts = [getattr(node, n) for n in ("elt", "key", "value") if hasattr(node, n)]
            inner = own_nodes([ast.Expr(part) for part in parts])
        else:
            continue
        found.update(id(n) for n, _, _ in inner if isinstance(n, ast.Call))
    return found


_WRITE_MODES = frozenset("wax+")


def _opens_for_writing(node: ast.Call) -> bool:
    """Whether ``node`` is an ``open`` (built-in, ``io``, ``aiofiles``, ``Path.open``) whose
    literal mode writes, appends or creates."""
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
    if name != "open":
        return False
    modes = [k.value for k in node.keywords if k.arg == "mode"] + node.args[:2]
    return any(
        isinstance(mode, ast.Constant)
        and isinstance(mode.value, str)
        and 0 < len(mode.value) <= 3
        and set(mode.value) <= set("rwaxbt+")
        and bool(set(mode.value) & _WRITE_MODES)
        for mode in modes
    )


def _source_text(func: ast.expr, name: str) -> str:
    """The callee's source text when the resolved ``name`` reads differently (``db.commit``
    for ``app.db.SessionLocal.commit``), else empty."""
    text = dotted(func)
    return text if text is not None and text != name else ""


def body_loops(resolver: Resolver, nodes: Nodes) -> tuple[Call, ...]:
    """``for`` loops over a call's result (named by the callee) and ``while True`` loops."""
    loops = []
    for node, _, _ in nodes:
        if isinstance(node, ast.For | ast.AsyncFor):
            source = node.iter.value if isinstance(node.iter, ast.Await) else node.iter
            if isinstance(source, ast.Call):
                name = callee_name(resolver, source.func, {})
                loops.append(Call(name, location(node), True))
        elif (
            isinstance(node, ast.While) and isinstance(node.test, ast.Constant) and node.test.value
        ):
            loops.append(Call("while True", location(node), True))
    return tuple(loops)


_LOG_METHODS = frozenset(
    {"debug", "info", "warning", "warn", "error", "exception", "critical", "log", "print_exc"}
)
_CATCH_ALL = frozenset({"Exception", "BaseException"})


def best_effort(body: list[ast.stmt]) -> ast.Try | None:
    """The ``try`` of a body that swallows every error and only logs it, else ``None``.

    The body (after its docstring) is one ``try`` without ``finally``, a handler catches
    ``Exception`` (or everything), and no handler does more than log (``logger.exception``,
    ``print``) or pass: the author accepts that the work may fail and be lost.
    """
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    if len(body) != 1 or not isinstance(body[0], ast.Try) or body[0].finalbody:
        return None
    handlers = body[0].handlers
    catches_all = any(_catches_all(h.type) for h in handlers)
    only_logs = all(_logs_only(statement) for h in handlers for statement in h.body)
    return body[0] if catches_all and only_logs else None


def _catches_all(caught: ast.expr | None) -> bool:
    names = caught.elts if isinstance(caught, ast.Tuple) else [caught]
    return any(n is None or dotted(n) in _CATCH_ALL for n in names)


def _logs_only(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.Pass):
        return True
    if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)):
        return False
    func = statement.value.func
    if isinstance(func, ast.Name):
        return func.id == "print"
    return isinstance(func, ast.Attribute) and func.attr in _LOG_METHODS


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _local_names(nodes: Nodes) -> set[str]:
    names: set[str] = set()
    for node, _, _ in nodes:
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def state_writes(nodes: Nodes, module_vars: set[str], params: set[str]) -> tuple[StateWrite, ...]:
    """Writes to module-level variables: ``global`` rebinding, item/attribute stores, mutators."""
    if not module_vars:
        return ()
    shadowed = (_local_names(nodes) | params) - _declared_global(nodes)
    writes: list[StateWrite] = []
    for node, _, _ in nodes:
        target = _written_base(node)
        if target is not None and target in module_vars and target not in shadowed:
            assert isinstance(node, ast.expr | ast.stmt)
            writes.append(StateWrite(target, location(node)))
    return tuple(writes)


def _declared_global(nodes: Nodes) -> set[str]:
    return {name for node, _, _ in nodes if isinstance(node, ast.Global) for name in node.names}


def _written_base(node: ast.AST) -> str | None:
    if isinstance(node, ast.Global):
        return node.names[0]
    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Delete):
        targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else [node.target]
        for target in targets:
            if isinstance(target, ast.Subscript | ast.Attribute):
                return _base_name(target)
        return None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in MUTATORS
    ):
        return _base_name(node.func.value)
    return None


def mutation_after(nodes: Nodes, name: str, line: int) -> Location | None:
    """The first in-place change of variable ``name`` after ``line`` in ``nodes``."""
    for node, _, _ in nodes:
        if getattr(node, "lineno", 0) <= line:
            continue
        if _written_base(node) == name and not isinstance(node, ast.Global):
            assert isinstance(node, ast.expr | ast.stmt)
            return location(node)
    return None
