"""Endpoint names (``POST /upload``) from route decorators, ``APIRouter(prefix=...)`` and the
``include_router(router, prefix=...)`` calls that mount routers on apps and other routers."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

ROUTE_METHODS = frozenset(
    {"get", "post", "put", "patch", "delete", "options", "head", "trace", "api_route", "websocket"}
)


def _string(node: ast.expr | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def router_prefixes(tree: ast.Module) -> dict[str, str]:
    """Module-level ``name = APIRouter(prefix="/x")`` -> ``{"name": "/x"}``."""
    prefixes: dict[str, str] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Call):
            prefix = _string(_keyword(stmt.value, "prefix"))
            for target in stmt.targets:
                if prefix is not None and isinstance(target, ast.Name):
                    prefixes[target.id] = prefix
    return prefixes


def _route_decorators(decorators: list[ast.expr]) -> Iterator[tuple[ast.Call, ast.Attribute]]:
    for call in (d for d in decorators if isinstance(d, ast.Call)):
        if isinstance(call.func, ast.Attribute) and call.func.attr in ROUTE_METHODS:
            yield call, call.func


def route_of(decorators: list[ast.expr], prefixes: dict[str, str]) -> str | None:
    """``METHOD /path`` when one of ``decorators`` is a route decorator, else ``None``."""
    for decorator, func in _route_decorators(decorators):
        route = _route(decorator, func, prefixes)
        if route is not None:
            return route
    return None


def route_owner(decorators: list[ast.expr]) -> ast.expr | None:
    """The router or app of the route decorator (``router`` in ``@router.post("/x")``)."""
    return next((func.value for _, func in _route_decorators(decorators)), None)


def includes(
    tree: ast.Module, prefixes: dict[str, str]
) -> Iterator[tuple[ast.expr, ast.expr, str]]:
    """``(parent, router, prefix)`` for every ``parent.include_router(router, prefix=...)``
    in the module (in functions too: apps are often built in a factory). The prefix starts
    with the parent's own ``APIRouter(prefix=...)`` when the parent is declared here."""
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr != "include_router":
            continue
        router = node.args[0] if node.args else _keyword(node, "router")
        if router is None:
            continue
        parent = node.func.value
        own = prefixes.get(parent.id, "") if isinstance(parent, ast.Name) else ""
        yield parent, router, own + (_string(_keyword(node, "prefix")) or "")


def _route(call: ast.Call, func: ast.Attribute, prefixes: dict[str, str]) -> str | None:
    path = _string(call.args[0] if call.args else _keyword(call, "path"))
    if path is None:
        return None
    owner = func.value
    prefix = prefixes.get(owner.id, "") if isinstance(owner, ast.Name) else ""
    attr = {"add_api_route": "api_route", "add_api_websocket_route": "websocket"}.get(func.attr)
    return f"{_method(call, attr or func.attr)} {prefix}{path}"


def registered_routes(tree: ast.Module, prefixes: dict[str, str]) -> dict[str, str]:
    """Module-level ``app.add_api_route("/x", handler, ...)`` -> ``{"handler": route}``."""
    routes: dict[str, str] = {}
    for stmt in tree.body:
        call = stmt.value if isinstance(stmt, ast.Expr) else None
        if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)):
            continue
        if call.func.attr not in {"add_api_route", "add_api_websocket_route"}:
            continue
        handler = call.args[1] if len(call.args) > 1 else _keyword(call, "endpoint")
        route = _route(call, call.func, prefixes)
        if isinstance(handler, ast.Name) and route is not None:
            routes[handler.id] = route
    return routes


def _method(decorator: ast.Call, attr: str) -> str:
    if attr != "api_route":
        return attr.upper()
    methods = _keyword(decorator, "methods")
    if isinstance(methods, ast.List | ast.Tuple | ast.Set):
        names = [m for m in map(_string, methods.elts) if m]
        if names:
            return "|".join(n.upper() for n in names)
    return "GET"


class Mounts:
    """Where each router is mounted: the prefixes that ``include_router`` calls, across the
    project, add to its routes (a router mounted twice has two labels per route)."""

    def __init__(self, mounts: Iterable[tuple[str, str, str]]) -> None:
        self._parents: dict[str, list[tuple[str, str]]] = {}
        for parent, router, prefix in mounts:
            self._parents.setdefault(router, []).append((parent, prefix))

    def prefixes(self, router: str, seen: frozenset[str] = frozenset()) -> set[str]:
        """Every prefix mounting ``router`` from an app (``{""}`` when it is mounted nowhere)."""
        parents = self._parents.get(router)
        if not parents or router in seen:
            return {""}
        inner = seen | {router}
        return {
            outer + prefix for parent, prefix in parents for outer in self.prefixes(parent, inner)
        }

    def labels(self, route: str, router: str | None) -> tuple[str, ...]:
        """``route`` (``POST /x``) under every prefix mounting ``router``."""
        if router is None:
            return (route,)
        method, _, path = route.partition(" ")
        return tuple(sorted(f"{method} {prefix}{path}" for prefix in self.prefixes(router)))
