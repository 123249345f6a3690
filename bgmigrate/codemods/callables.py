"""What the callable given to ``add_task`` really is: a named function, or something a queue
cannot carry by name (lambda, closure, bound method, ``functools.partial``, dynamic)."""

from __future__ import annotations

import ast
import dataclasses

from bgmigrate.codemods.facts import CallableKind, Candidate, TaskRef
from bgmigrate.codemods.names import Resolver, dotted

PARTIALS = frozenset({"functools.partial"})
# Wrappers whose real task is one of their own arguments: (qualified name, index of the task).
WRAPPERS = {
    "starlette.concurrency.run_in_threadpool": 0,
    "fastapi.concurrency.run_in_threadpool": 0,
    "asyncio.to_thread": 0,
    "anyio.to_thread.run_sync": 0,
}
EXECUTOR_METHOD = "run_in_executor"
WRAPPER_NAMES = frozenset({"run_in_executor", "run_in_threadpool", "to_thread", "run_sync"})
"""Names of the project's own wrappers that take the real task first (``async def
run_in_executor(func, *args)``): the task is the argument after them."""
_MAX_CANDIDATES = 8
MADE = "()"
"""Ends a task target that is what a factory function returns (``app.make_runner()``), until
the project pass finds the closure the factory returns."""
RETURNED = "()."
"""Joins a function's name and a method of what it returns in a task target
(``app.files.temp_zip().unlink``), until the project pass reads the return annotation."""


@dataclasses.dataclass
class Scope:
    """What the enclosing function knows about its local names."""

    qualname: str
    """Qualified name of the function in its module (``Controller.create``)."""
    class_name: str | None
    nested_defs: dict[str, str]
    """Local ``def`` names -> their qualified names (``outer.<locals>.inner``)."""
    assignments: dict[str, list[ast.expr]]
    """Every value assigned to each local name, in order."""
    instances: dict[str, str]
    """Local names known to hold an instance of a class -> the class's qualified name."""
    results: dict[str, str] = dataclasses.field(default_factory=dict)
    """Local names bound to what a function returns (``path = make_path()``, ``with
    temp_zip() as path``) -> the function's qualified name (the project pass reads its return
    annotation)."""


def wrapped_task(resolver: Resolver, args: list[ast.expr]) -> int:
    """Index in ``args`` of the real task when ``args[0]`` is a run-in-executor wrapper, else 0."""
    first = args[0]
    qual = resolver.qualify(first)
    if qual in WRAPPERS and len(args) > 1:
        return 1 + WRAPPERS[qual]
    if isinstance(first, ast.Name) and first.id in WRAPPER_NAMES and len(args) > 1:
        return 1
    if isinstance(first, ast.Attribute) and first.attr == EXECUTOR_METHOD and len(args) > 2:
        return 2
    return 0


def classify(resolver: Resolver, scope: Scope, node: ast.expr, depth: int = 0) -> TaskRef:
    """Classify the callable expression ``node`` as seen inside ``scope``."""
    text = ast.unparse(node)
    if isinstance(node, ast.Lambda):
        return _lambda(resolver, node, text)
    if isinstance(node, ast.Call) and resolver.qualify(node.func) in PARTIALS and node.args:
        inner = classify(resolver, scope, node.args[0], depth + 1)
        return TaskRef(CallableKind.PARTIAL, inner.target, text)
    if isinstance(node, ast.Name):
        return _name(resolver, scope, node, text, depth)
    if isinstance(node, ast.Attribute):
        return _attribute(resolver, scope, node, text)
    choices = _choices(scope, node)
    if choices and depth < 3:
        return _chosen(resolver, scope, choices, text, depth)
    factory = _factory(resolver, node)
    if factory is not None:
        # ``add_task(make_runner(...))``: the closure the factory returns, if the project pass
        # finds one.
        return TaskRef(CallableKind.NESTED, f"{factory}{MADE}", text)
    return TaskRef(CallableKind.DYNAMIC, None, text)


def _factory(resolver: Resolver, node: ast.expr) -> str | None:
    """The function a call of an imported or module-level name calls (not a built-in such as
    ``getattr``)."""
    if not isinstance(node, ast.Call):
        return None
    head = (dotted(node.func) or "").partition(".")[0]
    if head in resolver.imports or head in resolver.definitions:
        return resolver.qualify(node.func)
    return None


def _choices(scope: Scope, node: ast.expr) -> list[ast.expr]:
    """The callables a run-time choice can give: both branches of ``a if c else b``, every
    value of a dict literal looked up by key (``handlers[kind]``, ``handlers.get(kind)``)."""
    if isinstance(node, ast.IfExp):
        return [node.body, node.orelse]
    table: ast.expr | None = None
    if isinstance(node, ast.Subscript):
        table = node.value
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
    ):
        table = node.func.value
    if isinstance(table, ast.Name) and len(scope.assignments.get(table.id, [])) == 1:
        table = scope.assignments[table.id][0]
    if isinstance(table, ast.Dict):
        return list(table.values)[:_MAX_CANDIDATES]
    return []


def _chosen(
    resolver: Resolver, scope: Scope, choices: list[ast.expr], text: str, depth: int
) -> TaskRef:
    """A task chosen at run time among ``choices``: the first stands for the site, every one
    is listed (a choice that is itself a choice is flattened)."""
    refs = [classify(resolver, scope, choice, depth + 1) for choice in choices]
    flat: list[Candidate] = []
    for ref in refs:
        flat.extend(ref.candidates or (Candidate(ref.kind, ref.target, ref.text),))
    unique = list(dict.fromkeys(flat))
    first = unique[0]
    if len(unique) == 1:
        return TaskRef(first.kind, first.target, text)
    return TaskRef(first.kind, first.target, text, candidates=tuple(unique))


def _lambda(resolver: Resolver, node: ast.Lambda, text: str) -> TaskRef:
    body = node.body
    if isinstance(body, ast.Call):
        qual = resolver.qualify(body.func)
        return TaskRef(CallableKind.LAMBDA, qual, text, (qual,) if qual else ())
    return TaskRef(CallableKind.LAMBDA, None, text)


def _name(resolver: Resolver, scope: Scope, node: ast.Name, text: str, depth: int) -> TaskRef:
    if node.id in scope.nested_defs:
        return TaskRef(
            CallableKind.NESTED, _qualify_local(resolver, scope.nested_defs[node.id]), text
        )
    values = scope.assignments.get(node.id, [])
    if len(values) > 1 and depth < 3:
        return _chosen(resolver, scope, values[-_MAX_CANDIDATES:], text, depth)
    if values and depth < 3:
        inner = classify(resolver, scope, values[0], depth + 1)
        return dataclasses.replace(inner, text=text)
    qual = resolver.qualify(node)
    if node.id in resolver.imports or node.id in resolver.definitions:
        return TaskRef(CallableKind.FUNCTION, qual, text)
    return TaskRef(CallableKind.DYNAMIC, None, text)


def _qualify_local(resolver: Resolver, qualname: str) -> str:
    return f"{resolver.module}.{qualname}" if resolver.module else qualname


def _attribute(resolver: Resolver, scope: Scope, node: ast.Attribute, text: str) -> TaskRef:
    base = dotted(node.value)
    if base in {"self", "cls"} and scope.class_name:
        target = _qualify_local(resolver, f"{scope.class_name}.{node.attr}")
        return TaskRef(CallableKind.BOUND_METHOD, target, text)
    if isinstance(node.value, ast.Call) and (owner := resolver.qualify(node.value.func)):
        return TaskRef(CallableKind.BOUND_METHOD, f"{owner}.{node.attr}", text)
    if base is not None and base in scope.instances:
        return TaskRef(CallableKind.BOUND_METHOD, f"{scope.instances[base]}.{node.attr}", text)
    if base is not None and base in scope.results:
        target = f"{scope.results[base]}{RETURNED}{node.attr}"
        return TaskRef(CallableKind.BOUND_METHOD, target, text)
    head, _, rest = (base or "").partition(".")
    if head in scope.instances:
        # ``container.ask_service.ask`` with ``container: Container``: the project pass follows
        # the class attributes' annotations.
        target = f"{scope.instances[head]}.{rest}.{node.attr}"
        return TaskRef(CallableKind.BOUND_METHOD, target, text)
    if head and (head in resolver.imports or head in resolver.definitions):
        return TaskRef(CallableKind.FUNCTION, resolver.qualify(node), text)
    return TaskRef(CallableKind.BOUND_METHOD, None, text)
