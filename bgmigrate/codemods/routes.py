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
        path = _string(decorator.args[0] if decorator.args else _keyword(decorator, "path"))
        if path is None:
            continue
        owner = decorator.func.value
        prefix = prefixes.get(owner.id, "") if isinstance(owner, ast.Name) else ""
        return f"{_method(decorator, attr)} {prefix}{path}"
    return None


def _method(decorator: ast.Call, attr: str) -> str:
    if attr != "api_route":
        return attr.upper()
    methods = _keyword(decorator, "methods")
    if isinstance(methods, ast.List | ast.Tuple | ast.Set):
        names = [m for m in map(_string, methods.elts) if m]
        if names:
            return "|".join(n.upper() for n in names)
    return "GET"
