"""Endpoint names (``POST /upload``) from route decorators and ``APIRouter(prefix=...)``."""

from __future__ import annotations

import ast

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


def route_of(decorators: list[ast.expr], prefixes: dict[str, str]) -> str | None:
    """``METHOD /path`` when one of ``decorators`` is a route decorator, else ``None``."""
    for decorator in decorators:
        if not (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)):
            continue
        attr = decorator.func.attr
        if attr not in ROUTE_METHODS:
            continue
        route = _route(decorator, decorator.func, prefixes)
        if route is not None:
            return route
    return None


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
