"""Per-file analysis with stdlib ``ast``: BackgroundTasks objects, ``add_task`` call sites,
hand-built uses, helpers the object is passed to, and every function's calls.

``analyze`` runs in worker processes; it knows the rest of the project only through ``Hints``
(re-exported names and parameters that receive the object from other files). The project pass
re-runs it on a file when new hints about that file appear.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import deque
from collections.abc import Iterator

from bgmigrate.codemods import static_types
from bgmigrate.codemods.depends import DependsReader
from bgmigrate.codemods.effects import best_effort, classes, instances, location, own_nodes
from bgmigrate.codemods.facts import FileFacts, FunctionFacts, Hints, Param, Pass
from bgmigrate.codemods.function_scan import FunctionScan, ScanResult
from bgmigrate.codemods.names import AnnotationReader, Resolver, dotted, string_annotation
from bgmigrate.codemods.request_scope import module_aliases
from bgmigrate.codemods.routes import (
    includes,
    registered_routes,
    route_of,
    route_owner,
    router_prefixes,
)
from bgmigrate.codemods.source_text import character_columns, parse_quietly, suppressions

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
_MAX_ROUNDS = 5


@dataclasses.dataclass
class _Def:
    node: FunctionNode
    qualname: str
    class_name: str | None
    parent: str | None
    """Qualified name of the enclosing function, for closures."""


_BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case)


def _definitions(tree: ast.Module) -> Iterator[_Def]:
    queue: deque[tuple[ast.AST, str, str | None, str | None]] = deque([(tree, "", None, None)])
    while queue:
        node, prefix, class_name, parent = queue.popleft()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                qualname = f"{prefix}{child.name}"
                yield _Def(child, qualname, class_name, parent)
                queue.append((child, f"{qualname}.<locals>.", None, qualname))
            elif isinstance(child, ast.ClassDef):
                queue.append((child, f"{prefix}{child.name}.", child.name, parent))
            elif isinstance(child, _BLOCKS):
                # Definitions only live in statement blocks: expressions are never entered.
                queue.append((child, prefix, class_name, parent))


class ModuleAnalysis:
    """The analysis of one parsed module."""

    def __init__(self, tree: ast.Module, module: str, is_package: bool, hints: Hints) -> None:
        self.tree = tree
        self.module = module
        self.nodes = list(ast.walk(tree))
        self.resolver = Resolver(tree, module, is_package, self.nodes)
        self.reader = AnnotationReader(self.resolver, hints.bg_names)
        prefix = f"{module}." if module else ""
        self.bg_params = {
            (f.removeprefix(prefix), p) for f, p in hints.bg_params if f.startswith(prefix)
        }
        self.defs = list(_definitions(tree))
        self.by_name = {d.qualname: d for d in self.defs}
        self.nested: dict[str, dict[str, str]] = {}
        """Qualified name of a function -> its nested functions' names -> qualified names."""
        for d in self.defs:
            if d.parent is not None:
                self.nested.setdefault(d.parent, {})[d.node.name] = d.qualname
        self.class_attrs: dict[str, set[str]] = self._class_annotations()
        self.prefixes = router_prefixes(tree)
        self.registered = registered_routes(tree, self.prefixes)
        self.hinted_attrs = hints.bg_attrs
        self.module_vars = self._module_vars()
        self.module_instances = instances(self.resolver, self.tree.body)
        self.scoped_aliases = module_aliases(self.resolver, self.tree.body)
        self.depends = DependsReader(self.resolver, self.nodes)
        self.self_instances = self._self_instances()
        self._module_aliases()

    def _self_instances(self) -> dict[str, dict[str, str]]:
        """Class name -> its attributes set in a method to an instance of a known class
        (``self.session = requests.Session()``, ``self.app = app`` with ``app: App``)."""
        found: dict[str, dict[str, str]] = {}
        for item in self.defs:
            if item.class_name is None:
                continue
            args = item.node.args
            params = {
                a.arg: cls
                for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]
                if a.annotation is not None and (cls := _class_of(self.resolver, a.annotation))
            }
            for node in ast.walk(item.node):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                    if isinstance(target, ast.Attribute) and dotted(target.value) == "self":
                        cls = self._instance_class(value, params)
                        if cls is not None:
                            found.setdefault(item.class_name, {})[target.attr] = cls
        return found

    def _instance_class(self, value: ast.expr, params: dict[str, str]) -> str | None:
        if isinstance(value, ast.Name):
            return params.get(value.id)
        if isinstance(value, ast.Call):
            return classes({"": self.resolver.qualify(value.func) or ""}).get("")
        return None

    def _module_aliases(self) -> None:
        for stmt in self.tree.body:
            if isinstance(stmt, ast.Assign) and self.reader.read(stmt.value)[0]:
                for target in stmt.targets:
                    if isinstance(target, ast.Name):
                        self.reader.aliases.add(target.id)
        for local, qual in self.resolver.imports.items():
            for bg in self.reader.bg_names:
                if qual == bg or bg.endswith("." + qual):
                    self.reader.aliases.add(local)
                elif bg.startswith(qual + "."):
                    self.reader.aliases.add(local + bg[len(qual) :])

    def _module_vars(self) -> set[str]:
        functions = {d.node.name for d in self.defs if d.parent is None and d.class_name is None}
        imported = set(self.resolver.imports)
        return self.resolver.definitions - functions - imported

    def _class_annotations(self) -> dict[str, set[str]]:
        attrs: dict[str, set[str]] = {}
        for node in self.nodes:
            if isinstance(node, ast.ClassDef):
                attrs[node.name] = {
                    stmt.target.id
                    for stmt in node.body
                    if isinstance(stmt, ast.AnnAssign)
                    and isinstance(stmt.target, ast.Name)
                    and self.reader.read(stmt.annotation)[0]
                }
        return attrs

    def params(self, item: _Def) -> tuple[Param, ...]:
        """The parameters of ``item``, marking those that hold BackgroundTasks."""
        args = item.node.args
        positional = [*args.posonlyargs, *args.args]
        params = []
        for index, arg in enumerate([*positional, *args.kwonlyargs]):
            bg, optional, named = self.reader.read(arg.annotation)
            hinted = (item.qualname, arg.arg) in self.bg_params
            position = index if index < len(positional) else -1
            annotation = self._annotation(arg.annotation)
            hint = static_types.annotation(self.resolver, arg.annotation)
            params.append(Param(arg.arg, position, bg or hinted, optional, named, annotation, hint))
        return tuple(params)

    def _annotation(self, node: ast.expr | None) -> str | None:
        """The one type ``node`` names (``X``, ``X | None``, ``Optional[X]``), resolved."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            none = [n for n in (node.left, node.right) if isinstance(n, ast.Constant)]
            node = node.left if none == [node.right] else node.right if none else None
        elif isinstance(node, ast.Subscript) and self.resolver.is_typing(node.value, "Optional"):
            node = node.slice
        return self._qualify(node) if isinstance(node, ast.Name | ast.Attribute) else None

    def run(self) -> tuple[list[FunctionFacts], list[ScanResult]]:
        """Scan every function until the object's reach inside this file stops growing."""
        for _ in range(_MAX_ROUNDS):
            before = (set(self.bg_params), {k: set(v) for k, v in self.class_attrs.items()})
            results = self._scan_all()
            self._absorb(results)
            if before == (self.bg_params, self.class_attrs):
                break
        return [self._facts(d, r) for d, r in zip(self.defs, results, strict=True)], results

    def _scan_all(self) -> list[ScanResult]:
        results: dict[str, ScanResult] = {}
        for item in self.defs:
            outer = results[item.parent].bg_names if item.parent in results else frozenset()
            attrs = self.class_attrs.get(item.class_name or "", set())
            scan = FunctionScan(self, item.node, item.qualname, item.class_name, attrs, outer)
            results[item.qualname] = scan.run(self.params(item))
        return [results[d.qualname] for d in self.defs]

    def _absorb(self, results: list[ScanResult]) -> None:
        for item, result in zip(self.defs, results, strict=True):
            if result.self_attrs:
                self.class_attrs.setdefault(item.class_name or "", set()).update(result.self_attrs)
            for passed in result.passes:
                self._local_pass(passed)

    def _local_pass(self, passed: Pass) -> None:
        prefix = f"{self.module}."
        name = passed.callee.removeprefix(prefix) if self.module else passed.callee
        target = self.by_name.get(name) or self.by_name.get(f"{name}.__init__")
        if target is None or not passed.callee.startswith(prefix):
            return
        for param in passed.receivers(self.params(target), target.class_name is not None):
            self.bg_params.add((target.qualname, param.name))

    def _facts(self, item: _Def, result: ScanResult) -> FunctionFacts:
        decorators = [d.func if isinstance(d, ast.Call) else d for d in item.node.decorator_list]
        return FunctionFacts(
            qualname=item.qualname,
            at=result.at,
            is_async=isinstance(item.node, ast.AsyncFunctionDef),
            module_level=item.parent is None and item.class_name is None,
            is_method=item.class_name is not None,
            route=route_of(item.node.decorator_list, self.prefixes)
            or self.registered.get(item.qualname),
            params=self.params(item),
            calls=result.calls,
            state_writes=result.state_writes,
            loops=result.loops,
            attached=result.attached,
            depends=self.depends.of_function(item.node),
            decorators=tuple(self.resolver.qualify(d) or ast.unparse(d) for d in decorators),
            written_decorators=tuple(ast.unparse(d) for d in decorators),
            router=self._qualify(route_owner(item.node.decorator_list)),
            yield_line=first_yield(item.node),
            returns=_returned_class(self.resolver, item.node.returns),
            closure=self._closure(item),
            best_effort=location(swallowing)
            if (swallowing := best_effort(item.node.body))
            else None,
            return_type=static_types.annotation(self.resolver, item.node.returns),
        )

    def _closure(self, item: _Def) -> str | None:
        """The nested function ``item`` returns (``return run`` after ``def run():``)."""
        nested = self.nested.get(item.qualname)
        if not nested:
            return None
        returned = (
            node.value.id
            for node, _, _ in own_nodes(item.node.body)
            if isinstance(node, ast.Return) and isinstance(node.value, ast.Name)
        )
        return next((nested[name] for name in returned if name in nested), None)

    def _qualify(self, node: ast.expr | None) -> str | None:
        return None if node is None else self.resolver.qualify(node)

    def includes(self) -> tuple[tuple[str, str, str], ...]:
        """The module's ``include_router`` calls, names qualified."""
        found = (
            (self._qualify(parent) or "", self._qualify(router), prefix)
            for parent, router, prefix in includes(self.tree, self.prefixes)
        )
        return tuple((parent, router, prefix) for parent, router, prefix in found if router)

    def dependencies(self) -> tuple[str, ...]:
        """Qualified names given to ``Depends``/``Security`` anywhere in the module."""
        return tuple(sorted(self.depends.module_depends))

    def qualified_attrs(self) -> frozenset[str]:
        """``module.Class.attr`` for every class attribute known to hold the object here."""
        prefix = f"{self.module}." if self.module else ""
        local = {f"{prefix}{cls}.{a}" for cls, attrs in self.class_attrs.items() for a in attrs}
        return frozenset(local) | self.hinted_attrs

    def held_instances(self) -> dict[str, str]:
        """Names known to hold an instance of a class -> the class's qualified name: annotated
        module-level names and class attributes (``app: ForgeApp``, ``ForgeApp.agent:
        AgentFunction``), then module-level constructor calls (``sync_service =
        SyncService()``), which win."""
        found: dict[str, str] = {}
        for prefix, body in [("", self.tree.body)] + [
            (f"{c.name}.", c.body) for c in self.tree.body if isinstance(c, ast.ClassDef)
        ]:
            for stmt in _top_statements(body):
                if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                    cls = _class_of(self.resolver, stmt.annotation)
                    if cls is not None:
                        found[prefix + stmt.target.id] = cls
        for cls, attrs in self.self_instances.items():
            found.update((f"{cls}.{attr}", held) for attr, held in attrs.items())
        return found | classes(self.module_instances)

    def exports(self) -> tuple[str, ...]:
        """Module-level names that mean BackgroundTasks (for re-export resolution)."""
        return tuple(sorted(a for a in self.reader.aliases if "." not in a))


def _top_statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """The statements of ``body``, entering ``if``/``try`` blocks (``if TYPE_CHECKING:``)."""
    for stmt in body:
        if isinstance(stmt, ast.If | ast.Try):
            for block in (stmt.body, stmt.orelse, *(getattr(stmt, "finalbody", []),)):
                yield from _top_statements(block)
        else:
            yield stmt


_YIELDING = frozenset(
    {"Iterator", "Generator", "AsyncIterator", "AsyncGenerator", "Iterable", "AsyncIterable"}
)


def _returned_class(resolver: Resolver, annotation: ast.expr | None) -> str | None:
    """The class a return annotation names; for a generator (a context manager, a dependency
    with ``yield``), the class it yields."""
    if annotation is None:
        return None
    inner = string_annotation(annotation)
    annotation = inner if inner is not None else annotation
    if isinstance(annotation, ast.Subscript):
        name = (dotted(annotation.value) or "").rpartition(".")[2]
        if name in _YIELDING:
            first = annotation.slice
            return _class_of(resolver, first.elts[0] if isinstance(first, ast.Tuple) else first)
    return _class_of(resolver, annotation)


def _class_of(resolver: Resolver, annotation: ast.expr) -> str | None:
    """The class an annotation names (``Service``, ``Service | None``, ``"Service"``)."""
    inner = string_annotation(annotation)
    if inner is not None:
        return _class_of(resolver, inner)
    if isinstance(annotation, ast.BinOp) and isinstance(annotation.op, ast.BitOr):
        return _class_of(resolver, annotation.left) or _class_of(resolver, annotation.right)
    if isinstance(annotation, ast.Subscript) and resolver.is_typing(annotation.value, "Optional"):
        return _class_of(resolver, annotation.slice)
    name = dotted(annotation)
    if name is None or not name.rpartition(".")[2][:1].isupper():
        return None
    return resolver.qualify_dotted(name)


def analyze(source: bytes, path: str, module: str, hints: Hints) -> FileFacts:
    """Analyse one file; a file that does not parse becomes a result with ``error`` set.

    An unexpected failure inside the analysis also becomes that file's error (and the run
    goes on): one odd file must not stop a scan of thousands.
    """
    try:
        tree = parse_quietly(source, path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        where = f"line {exc.lineno}: " if isinstance(exc, SyntaxError) and exc.lineno else ""
        reason = exc.msg if isinstance(exc, SyntaxError) else f"{type(exc).__name__}: {exc}"
        classes, aliases = static_types.lenient(source, module, path.endswith("__init__.py"))
        error = f"cannot parse: {where}{reason}"
        return FileFacts(path, module, error=error, classes=classes, type_aliases=aliases)
    try:
        facts = _analyze_tree(tree, source, path, module, hints)
    except Exception as exc:
        message = f"internal error while analysing ({type(exc).__name__}: {exc}); please report"
        return FileFacts(path, module, error=message)
    return facts if source.isascii() else character_columns(facts, source)


def _analyze_tree(
    tree: ast.Module, source: bytes, path: str, module: str, hints: Hints
) -> FileFacts:
    analysis = ModuleAnalysis(tree, module, path.endswith("__init__.py"), hints)
    functions, results = analysis.run()
    module_level = FunctionScan(analysis, None, "", None, set(), frozenset()).run_module(tree)
    scans = [*results, module_level]
    text = source.decode("utf-8", errors="replace")
    return FileFacts(
        display_path=path,
        module=module,
        functions=tuple(functions),
        call_sites=tuple(c for r in scans for c in r.call_sites),
        other_uses=tuple(o for r in scans for o in r.other_uses),
        passes=tuple(p for r in scans for p in r.passes),
        imports=tuple(sorted(analysis.resolver.imports.items())),
        bg_exports=analysis.exports(),
        bg_attrs=tuple(sorted(a for a in analysis.qualified_attrs() if a not in hints.bg_attrs)),
        bg_local_names=tuple(sorted(analysis.reader.aliases)),
        dependencies=analysis.dependencies(),
        includes=analysis.includes(),
        bound_names=tuple(sorted(analysis.resolver.definitions | set(analysis.resolver.imports))),
        suppressions=suppressions(text),
        scoped_aliases=tuple(sorted(analysis.scoped_aliases.items())),
        instances=tuple(sorted(analysis.held_instances().items())),
        classes=static_types.module_classes(analysis.resolver, tree),
        type_aliases=static_types.type_aliases(analysis.resolver, tree),
    )


def first_yield(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int | None:
    """The line of the first ``yield`` of ``node`` itself (not of functions nested in it)."""
    pending: list[ast.AST] = list(node.body)
    lines = []
    while pending:
        child = pending.pop()
        if isinstance(child, ast.Yield | ast.YieldFrom):
            lines.append(child.lineno)
        elif not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(child))
    return min(lines, default=None)
