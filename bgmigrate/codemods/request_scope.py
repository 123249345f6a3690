"""Request-scoped objects in an endpoint: things that must not be handed to a queued task."""

from __future__ import annotations

import ast
from collections.abc import Mapping

from bgmigrate.codemods.effects import bindings
from bgmigrate.codemods.names import Resolver, dotted

_SESSION = "the request's DB session"
_BUILT = "an object built with the request's DB session"
TEMPORARY_FILE = "a temporary file on the web host"
"""What a value made by ``tempfile`` is (a task parameter annotated ``LocalFile`` carries it)."""
# Annotation class names (last dotted part) of request-scoped parameters -> description.
SCOPED_TYPES = {
    "Request": "the Request",
    "HTTPConnection": "the connection",
    "WebSocket": "the WebSocket",
    "UploadFile": "an UploadFile",
    "Session": _SESSION,
    "AsyncSession": _SESSION,
}
_DEPENDS = frozenset({"fastapi.Depends", "fastapi.params.Depends", "Depends"})
_CLIENTS = frozenset(
    {
        "httpx.Client",
        "httpx.AsyncClient",
        "aiohttp.ClientSession",
        "requests.Session",
        "requests.session",
    }
)
_SESSION_WORDS = ("db", "session")
_SCOPED_ATTRIBUTES = frozenset({"file", "state", "scope", "stream", "app", "user"})
"""Attributes of a request-scoped object that belong to the request (``request.user``: the
authentication backend's user object, often an ORM row)."""


def annotation_kind(
    resolver: Resolver, node: ast.expr | None, aliases: Mapping[str, str] | None = None
) -> str | None:
    """What request-scoped object an annotation means (``Session``, ``Annotated[Session,
    Depends(get_db)]``, a module-level alias of one in ``aliases``), if it means one."""
    if node is None:
        return None
    if isinstance(node, ast.Subscript):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return annotation_kind(resolver, elts[0], aliases) or _depends_kind(resolver, elts[1:])
    if isinstance(node, ast.BinOp):
        return annotation_kind(resolver, node.left, aliases) or annotation_kind(
            resolver, node.right, aliases
        )
    name = dotted(node)
    if name is None:
        return None
    return (aliases or {}).get(name) or SCOPED_TYPES.get(name.rpartition(".")[2])


def module_aliases(resolver: Resolver, body: list[ast.stmt]) -> dict[str, str]:
    """Module-level aliases of request-scoped annotations (``DbSession = Annotated[Session,
    Depends(get_db)]``) -> what they mean."""
    found: dict[str, str] = {}
    for stmt in body:
        target, value = None, None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign):
            target, value = stmt.target, stmt.value
        if isinstance(target, ast.Name) and isinstance(value, ast.Subscript):
            kind = annotation_kind(resolver, value, found)
            if kind is not None:
                found[target.id] = kind
    return found


def imported_annotations(resolver: Resolver, args: ast.arguments) -> dict[str, str]:
    """Parameters annotated with an imported name -> its qualified name (an alias declared in
    another module is looked up by the project pass)."""
    found: dict[str, str] = {}
    for param in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
        name = dotted(param.annotation) if param.annotation is not None else None
        if name is not None and name.partition(".")[0] in resolver.imports:
            found[param.arg] = resolver.qualify_dotted(name)
    return found


def _depends_kind(resolver: Resolver, nodes: list[ast.expr]) -> str | None:
    for node in nodes:
        if isinstance(node, ast.Call) and resolver.qualify(node.func) in _DEPENDS and node.args:
            dependency = (dotted(node.args[0]) or "").lower()
            if any(word in dependency for word in _SESSION_WORDS):
                return _SESSION
    return None


def scoped_params(
    resolver: Resolver, args: ast.arguments, aliases: Mapping[str, str]
) -> dict[str, str]:
    """Parameters that hold request-scoped objects -> what they are (``aliases``: this
    module's aliases of request-scoped annotations)."""
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    defaults: list[ast.expr | None] = [None] * (len(args.posonlyargs) + len(args.args))
    defaults[len(defaults) - len(args.defaults) :] = args.defaults
    defaults += args.kw_defaults
    scoped: dict[str, str] = {}
    for param, default in zip(params, defaults, strict=True):
        kind = annotation_kind(resolver, param.annotation, aliases)
        if kind is None and default is not None:
            kind = _depends_kind(resolver, [default])
        if kind is not None:
            scoped[param.arg] = kind
    return scoped


def _chain_root(node: ast.expr) -> ast.expr:
    while True:
        if isinstance(node, ast.Await):
            node = node.value
        elif isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute | ast.Subscript):
            node = node.value
        else:
            return node


def value_kind(resolver: Resolver, value: ast.expr, scoped: dict[str, str]) -> str | None:
    """What a value assigned in the endpoint is, when it is request-scoped."""
    inner = value.value if isinstance(value, ast.Await) else value
    if isinstance(inner, ast.Call):
        qual = resolver.qualify(inner.func) or ""
        if qual in _CLIENTS:
            return "a client opened for this request"
        if qual.startswith("tempfile."):
            return TEMPORARY_FILE
    root = _chain_root(value)
    if isinstance(inner, ast.Attribute):
        # ``user = request.user.object``: what the request holds, unless it is an id.
        held = argument_kind(inner, scoped)
        return held if held is not None and not inner.attr.endswith("id") else None
    if not isinstance(inner, ast.Call):
        return None
    if isinstance(root, ast.Name) and scoped.get(root.id) == _SESSION:
        return "an ORM object loaded with the request's session"
    given = [*inner.args, *(k.value for k in inner.keywords)]
    if any(isinstance(a, ast.Name) and scoped.get(a.id) == _SESSION for a in given):
        # A helper or a constructor handed the session: ``user, profile = load(db, id)``,
        # ``service = Service(db)``.
        built = (dotted(inner.func) or "").rpartition(".")[2][:1].isupper()
        return _BUILT if built else "an ORM object loaded with the request's session"
    return None


def scoped_locals(
    resolver: Resolver, body: list[ast.stmt], scoped: dict[str, str]
) -> dict[str, str]:
    """Local variables bound to request-scoped values (ORM rows, clients, temp files)."""
    found = dict(scoped)
    for node in ast.walk(ast.Module(body=body, type_ignores=[])):
        written = _written_path(resolver, node)
        if written is not None:
            found[written] = "a file written on the web host by this request"
        for target, value in bindings(node):
            kind = value_kind(resolver, value, found)
            if kind is None:
                continue
            names = target.elts if isinstance(target, ast.Tuple | ast.List) else [target]
            found.update((n.id, kind) for n in names if isinstance(n, ast.Name))
    return found


_OPENERS = frozenset({"open", "io.open", "aiofiles.open"})


def _written_path(resolver: Resolver, node: ast.AST) -> str | None:
    """The variable holding a path the request writes to (``open(path, "wb")``)."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Name)):
        return None
    is_open = resolver.qualify(node.func) in _OPENERS
    mode = node.args[1] if len(node.args) > 1 else None
    mode = next((k.value for k in node.keywords if k.arg == "mode"), mode)
    if not (is_open and isinstance(mode, ast.Constant) and isinstance(mode.value, str)):
        return None
    return node.args[0].id if any(flag in mode.value for flag in "wax") else None


def argument_kind(node: ast.expr, scoped: dict[str, str]) -> str | None:
    """What request-scoped object an ``add_task`` argument is, if it is one."""
    if isinstance(node, ast.Starred):
        node = node.value
    if isinstance(node, ast.Name):
        return scoped.get(node.id)
    attrs: list[str] = []
    while isinstance(node, ast.Attribute):
        attrs.append(node.attr)
        node = node.value
    if not (isinstance(node, ast.Name) and node.id in scoped):
        return None
    # ``request.app.state.db``: the first attribute reached that belongs to the request.
    held = [a for a in reversed(attrs) if a in _SCOPED_ATTRIBUTES]
    return f"{'.'.join(reversed(attrs))} of {scoped[node.id]}" if held else None
