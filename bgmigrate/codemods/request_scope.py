"""Request-scoped objects in an endpoint: things that must not be handed to a queued task."""

from __future__ import annotations

import ast

from bgmigrate.codemods.effects import bindings
from bgmigrate.codemods.names import Resolver, dotted

_SESSION = "the request's DB session"
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
_SCOPED_ATTRIBUTES = frozenset({"file", "state", "scope", "stream", "app"})


def _annotation_kind(resolver: Resolver, node: ast.expr | None) -> str | None:
    if node is None:
        return None
    if isinstance(node, ast.Subscript):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return _annotation_kind(resolver, elts[0]) or _depends_kind(resolver, elts[1:])
    if isinstance(node, ast.BinOp):
        return _annotation_kind(resolver, node.left) or _annotation_kind(resolver, node.right)
    name = dotted(node)
    return SCOPED_TYPES.get(name.rpartition(".")[2]) if name else None


def _depends_kind(resolver: Resolver, nodes: list[ast.expr]) -> str | None:
    for node in nodes:
        if isinstance(node, ast.Call) and resolver.qualify(node.func) in _DEPENDS and node.args:
            dependency = (dotted(node.args[0]) or "").lower()
            if any(word in dependency for word in _SESSION_WORDS):
                return _SESSION
    return None


def scoped_params(resolver: Resolver, args: ast.arguments) -> dict[str, str]:
    """Parameters that hold request-scoped objects -> what they are."""
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    defaults: list[ast.expr | None] = [None] * (len(args.posonlyargs) + len(args.args))
    defaults[len(defaults) - len(args.defaults) :] = args.defaults
    defaults += args.kw_defaults
    scoped: dict[str, str] = {}
    for param, default in zip(params, defaults, strict=True):
        kind = _annotation_kind(resolver, param.annotation)
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
            return "a temporary file on the web host"
    root = _chain_root(value)
    is_call = isinstance(inner, ast.Call)
    if is_call and isinstance(root, ast.Name) and scoped.get(root.id) == _SESSION:
        return "an ORM object loaded with the request's session"
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
            if isinstance(target, ast.Name) and kind is not None:
                found[target.id] = kind
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
    if isinstance(node, ast.Attribute) and node.attr in _SCOPED_ATTRIBUTES:
        base = node.value
        if isinstance(base, ast.Name) and base.id in scoped:
            return f"{node.attr} of {scoped[base.id]}"
    return None
