"""Name resolution for one module with stdlib ``ast``: imports, aliases and annotations.

A name is resolved to the dotted name it was imported as (``BT`` -> ``fastapi.BackgroundTasks``),
a module-level definition to ``module.name``; anything else stays as written.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable

BACKGROUND_TASKS = frozenset(
    {
        "fastapi.BackgroundTasks",
        "fastapi.background.BackgroundTasks",
        "starlette.background.BackgroundTasks",
    }
)
"""Fully qualified names of the ``BackgroundTasks`` class."""
SINGLE_TASK = frozenset(
    {"starlette.background.BackgroundTask", "fastapi.background.BackgroundTask"}
)
"""Fully qualified names of Starlette's single ``BackgroundTask``."""
RUNTIME = "bgmigrate"
RUNTIME_NAMES = ("Tasks", "RequestBatch", "task", "RetryPolicy")
"""Names of bgmigrate's runtime API that the rewrite introduces."""
TASK_DECORATOR = f"{RUNTIME}.task"
TASK_QUEUES = frozenset({"bgmigrate.Tasks", "bgmigrate.RequestBatch", "bgmigrate.TaskQueue"})
"""bgmigrate's replacements (``TaskQueue`` is the former name of ``RequestBatch``): still audited
after a rewrite, never rewritten again."""
_TYPING = ("typing.", "typing_extensions.")


def dotted(node: ast.expr) -> str | None:
    """``a.b.c`` for a ``Name``/``Attribute`` chain, else ``None``."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def matches(name: str, known: Iterable[str]) -> bool:
    """``name`` is one of ``known``, allowing for a module prefix the scan root cut off."""
    suffix = "." + name
    return any(k == name or k.endswith(suffix) or name.endswith("." + k) for k in known)


class Resolver:
    """Resolves names in one module to fully qualified dotted names."""

    def __init__(
        self,
        tree: ast.Module,
        module: str,
        is_package: bool,
        nodes: Iterable[ast.AST] | None = None,
    ) -> None:
        """``nodes``: every node of ``tree`` when the caller has already listed them."""
        self.module = module
        self._package = module if is_package else module.rpartition(".")[0]
        self.imports: dict[str, str] = {}
        self.definitions: set[str] = set()
        for node in ast.walk(tree) if nodes is None else nodes:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.imports[alias.asname] = alias.name
                    else:
                        head = alias.name.partition(".")[0]
                        self.imports[head] = head
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node.module, node.level)
                for alias in node.names:
                    name = f"{base}.{alias.name}" if base else alias.name
                    self.imports[alias.asname or alias.name] = name
        for stmt in tree.body:
            self.definitions.update(_bound_names(stmt))

    def _absolute(self, module: str | None, level: int) -> str:
        if level == 0:
            return module or ""
        parts = self._package.split(".") if self._package else []
        base = parts[: len(parts) - (level - 1)] if level > 1 else parts
        return ".".join([*base, module] if module else base)

    def qualify_dotted(self, name: str) -> str:
        """Resolve a dotted name as written in this module."""
        head, _, rest = name.partition(".")
        if head in self.imports:
            base = self.imports[head]
        elif head in self.definitions:
            base = f"{self.module}.{head}" if self.module else head
        else:
            return name
        return f"{base}.{rest}" if rest else base

    def qualify(self, node: ast.expr) -> str | None:
        """Resolve a ``Name``/``Attribute`` chain; ``None`` for other expressions."""
        name = dotted(node)
        return None if name is None else self.qualify_dotted(name)

    def is_typing(self, node: ast.expr, name: str) -> bool:
        """Whether ``node`` names ``typing.<name>`` (or ``typing_extensions``)."""
        qual = self.qualify(node)
        return qual is not None and (qual == name or any(qual == p + name for p in _TYPING))


def _bound_names(stmt: ast.stmt) -> Iterable[str]:
    """Names a module-level statement binds in the module: a definition, assignment targets
    (tuples too), a ``for`` or ``with ... as`` target, and what the blocks of ``if``, ``try``,
    ``with``, ``for`` and ``while`` bind (``if CELERY: task = app.task``)."""
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        yield stmt.name
        return
    if isinstance(stmt, ast.Assign):
        targets = stmt.targets
    elif isinstance(stmt, ast.AnnAssign | ast.AugAssign | ast.For):
        targets = [stmt.target]
    elif isinstance(stmt, ast.With):
        targets = [item.optional_vars for item in stmt.items if item.optional_vars]
    else:
        targets = []
    for target in targets:
        yield from _target_names(target)
    if isinstance(stmt, ast.If | ast.For | ast.While | ast.With | ast.Try | ast.TryStar):
        blocks = [getattr(stmt, field, []) for field in ("body", "orelse", "finalbody")]
        blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
        for block in blocks:
            for inner in block:
                yield from _bound_names(inner)


def _target_names(target: ast.expr) -> Iterable[str]:
    """The names an assignment target binds (``a``, ``a, (b, *c)``)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def string_annotation(node: ast.expr) -> ast.expr | None:
    """The expression inside a string annotation (``"BackgroundTasks"``), if it parses."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
        return None
    try:
        return ast.parse(node.value.strip(), mode="eval").body
    except SyntaxError:
        return None


class AnnotationReader:
    """Decides whether an annotation means BackgroundTasks (or bgmigrate's queue)."""

    def __init__(self, resolver: Resolver, bg_names: frozenset[str]) -> None:
        self.resolver = resolver
        self.bg_names = set(bg_names) | BACKGROUND_TASKS
        self.aliases: set[str] = set()
        """Local dotted names that mean BackgroundTasks (module-level aliases included)."""

    def is_bg_name(self, node: ast.expr) -> bool:
        """Whether the ``Name``/``Attribute`` ``node`` itself names BackgroundTasks."""
        text = dotted(node)
        if text is None:
            return False
        if text in self.aliases:
            return True
        qual = self.resolver.qualify_dotted(text)
        return matches(qual, self.bg_names)

    def is_queue_name(self, node: ast.expr) -> bool:
        """Whether ``node`` names bgmigrate's ``Tasks``/``RequestBatch``."""
        qual = self.resolver.qualify(node)
        return qual in TASK_QUEUES

    def read(self, node: ast.expr | None) -> tuple[bool, bool, bool]:
        """``(is_bg, is_optional, is_background_tasks)`` for an annotation."""
        if node is None:
            return False, False, False
        inner = string_annotation(node)
        if inner is not None:
            return self.read(inner)
        if isinstance(node, ast.Subscript):
            return self._subscript(node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._union([node.left, node.right])
        if self.is_bg_name(node):
            return True, False, True
        return self.is_queue_name(node), False, False

    def _subscript(self, node: ast.Subscript) -> tuple[bool, bool, bool]:
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if self.resolver.is_typing(node.value, "Annotated"):
            return self.read(elts[0])
        if self.resolver.is_typing(node.value, "Optional"):
            bg, _, named = self.read(elts[0])
            return bg, bg, named
        if self.resolver.is_typing(node.value, "Union"):
            return self._union(elts)
        return False, False, False

    def _union(self, members: list[ast.expr]) -> tuple[bool, bool, bool]:
        reads = [self.read(m) for m in members]
        none = [m for m in members if isinstance(m, ast.Constant) and m.value is None]
        bg = [r for r in reads if r[0]]
        if bg and len(bg) + len(none) == len(members):
            return True, bool(none), any(r[2] for r in bg)
        return False, False, False
