"""What a module's functions declare with ``Depends``/``Security`` (parameters, defaults,
``Annotated`` metadata and route decorators), names qualified."""

from __future__ import annotations

import ast
import functools

from bgmigrate.codemods.names import Resolver, dotted

_DEPENDS = frozenset({"fastapi.Depends", "fastapi.Security", "fastapi.params.Depends", "Depends"})
FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef


class DependsReader:
    """The dependencies named in one module."""

    def __init__(self, resolver: Resolver, nodes: list[ast.AST]) -> None:
        self.resolver = resolver
        self.nodes = nodes

    @functools.cached_property
    def module_depends(self) -> set[str]:
        """Qualified names given to ``Depends``/``Security`` anywhere in the module."""
        return self._depends_in(self.nodes, walk=False)

    def _depends_in(
        self, roots: list[ast.AST], annotation: ast.expr | None = None, walk: bool = True
    ) -> set[str]:
        """Dependencies named in ``roots`` (and below them, with ``walk``); a bare
        ``Depends()`` means ``annotation``'s class."""
        found = set()
        for root in roots:
            for node in ast.walk(root) if walk else (root,):
                if not (isinstance(node, ast.Call) and self._is_depends(node.func)):
                    continue
                target = node.args[0] if node.args else annotation
                name = self.resolver.qualify(target) if target is not None else None
                if name:
                    found.add(name)
        return found

    def of_function(self, node: FunctionNode) -> tuple[str, ...]:
        """What the function's parameters and route decorator ``Depends`` on."""
        if not self.module_depends and not self._bare_depends:
            return ()
        args = node.args
        params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        defaults: list[ast.expr | None] = [None] * (len(args.posonlyargs) + len(args.args))
        defaults[len(defaults) - len(args.defaults) :] = args.defaults
        found = self._depends_in(list(node.decorator_list))
        for param, default in zip(params, [*defaults, *args.kw_defaults], strict=True):
            annotation = param.annotation
            if isinstance(annotation, ast.Subscript) and self.resolver.is_typing(
                annotation.value, "Annotated"
            ):
                parts = annotation.slice
                elts = parts.elts if isinstance(parts, ast.Tuple) else [parts]
                found |= self._depends_in(list(elts[1:]), elts[0])
            if default is not None:
                found |= self._depends_in([default], annotation)
        return tuple(sorted(found))

    @functools.cached_property
    def _bare_depends(self) -> bool:
        """Whether the module has a ``Depends()`` without an argument (class dependencies)."""
        return any(
            isinstance(n, ast.Call) and not n.args and self._is_depends(n.func) for n in self.nodes
        )

    def _is_depends(self, func: ast.expr) -> bool:
        qual = self.resolver.qualify(func)
        return qual in _DEPENDS or (dotted(func) or "").endswith(("Depends", "Security"))
