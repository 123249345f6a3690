"""One function body: which names hold the BackgroundTasks object, its ``add_task`` calls,
where it is passed on, and hand-built ``BackgroundTasks()``/``BackgroundTask(...)`` uses."""

from __future__ import annotations

import ast
import dataclasses
from typing import Protocol

from bgmigrate.codemods.callables import Scope, classify, wrapped_task
from bgmigrate.codemods.effects import (
    Nodes,
    body_calls,
    body_loops,
    location,
    mutation_after,
    own_nodes,
    state_writes,
)
from bgmigrate.codemods.facts import (
    Argument,
    Call,
    CallableKind,
    Location,
    OtherUse,
    Param,
    Pass,
    RawCallSite,
    StateWrite,
    TaskRef,
)
from bgmigrate.codemods.names import SINGLE_TASK, AnnotationReader, Resolver, dotted, matches
from bgmigrate.codemods.request_scope import argument_kind, scoped_locals, scoped_params

_CONSTRUCTED = (
    "BackgroundTasks() built by hand: its tasks run only if it is attached to a response; "
    "review it by hand"
)
_RESPONSE = (
    "BackgroundTasks attached to a response with background=: the rewrite cannot move it; "
    "review it by hand"
)
_SINGLE = "a single BackgroundTask({}) runs in-process after the response; review it by hand"


@dataclasses.dataclass
class ScanResult:
    """What one function body contributes to its file's facts."""

    at: Location
    bg_names: frozenset[str] = frozenset()
    call_sites: list[RawCallSite] = dataclasses.field(default_factory=list)
    other_uses: list[OtherUse] = dataclasses.field(default_factory=list)
    passes: list[Pass] = dataclasses.field(default_factory=list)
    self_attrs: set[str] = dataclasses.field(default_factory=set)
    calls: tuple[Call, ...] = ()
    state_writes: tuple[StateWrite, ...] = ()
    loops: tuple[Call, ...] = ()
    attached: bool = False


class ModuleView(Protocol):
    """What a function scan reads of its module's analysis (``finder.ModuleAnalysis``)."""

    @property
    def module(self) -> str:
        """The module's dotted name."""

    @property
    def resolver(self) -> Resolver:
        """The module's name resolution (imports, definitions)."""

    @property
    def reader(self) -> AnnotationReader:
        """Which annotations and names mean BackgroundTasks here."""

    @property
    def module_vars(self) -> set[str]:
        """Module-level names that are neither functions nor imports."""

    @property
    def module_instances(self) -> dict[str, str]:
        """Module-level names bound to a constructor's result -> the constructor."""

    def qualified_attrs(self) -> frozenset[str]:
        """``module.Class.attr`` for every class attribute known to hold the object."""


class FunctionScan:
    """Scans one function (or, with ``run_module``, a module's top-level statements)."""

    def __init__(
        self,
        analysis: ModuleView,
        node: ast.FunctionDef | ast.AsyncFunctionDef | None,
        qualname: str,
        class_name: str | None,
        attrs: set[str],
        outer: frozenset[str],
    ) -> None:
        self.analysis = analysis
        self.resolver = analysis.resolver
        self.node = node
        self.body: list[ast.stmt] = node.body if node else []
        self.nodes: Nodes = list(own_nodes(self.body))
        self.qualname = qualname
        self.attrs = attrs
        self.held_attrs = analysis.qualified_attrs()
        self.bg: set[str] = set(outer)
        self.constructed: set[str] = set()
        self.scope = Scope(qualname, class_name, {}, {}, {})
        self.result = ScanResult(location(node) if node else Location(1, 0))
        self._scoped: dict[str, str] | None = None

    def run(self, params: tuple[Param, ...]) -> ScanResult:
        """Scan the function body given its parameters."""
        assert self.node is not None
        self.bg -= {p.name for p in params}
        self.bg |= {p.name for p in params if p.bg}
        self._param_instances()
        self._bind_locals()
        self._visit()
        module_vars = self.analysis.module_vars
        self.result.calls = body_calls(self.resolver, self.nodes, self.analysis.module_instances)
        self.result.loops = body_loops(self.resolver, self.nodes)
        self.result.state_writes = state_writes(self.nodes, module_vars, {p.name for p in params})
        self.result.bg_names = frozenset(self.bg)
        return self.result

    def run_module(self, tree: ast.Module) -> ScanResult:
        """Hand-built uses in module-level statements."""
        self.body = tree.body
        self.nodes = list(own_nodes(tree.body))
        self._bind_locals()
        self._visit()
        return self.result

    def _param_instances(self) -> None:
        assert self.node is not None
        args = self.node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            annotation = arg.annotation
            if isinstance(annotation, ast.Subscript):
                first = annotation.slice
                annotation = first.elts[0] if isinstance(first, ast.Tuple) else first
            self._instance(arg.arg, annotation)

    def _instance(self, name: str, node: ast.expr | None) -> None:
        text = dotted(node) if node is not None else None
        if text and text.rpartition(".")[2][:1].isupper():
            self.scope.instances[name] = self.resolver.qualify_dotted(text)

    def _bind_locals(self) -> None:
        for node, _, _ in self.nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.scope.nested_defs[node.name] = f"{self.qualname}.<locals>.{node.name}"
        for _ in range(2):
            for node, _, _ in self.nodes:
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        self._bind(target, node.value)
                elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                    self._bind(node.target, node.value)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Attribute) and dotted(target.value) == "self":
            if self._holds_bg(value):
                self.result.self_attrs.add(target.attr)
            return
        if not isinstance(target, ast.Name):
            return
        self.scope.assignments[target.id] = value
        if self._holds_bg(value):
            self.bg.add(target.id)
        elif self._constructs(value):
            self.constructed.add(target.id)
        elif isinstance(value, ast.Call):
            self._instance(target.id, value.func)

    def _constructs(self, value: ast.expr) -> bool:
        return isinstance(value, ast.Call) and self.analysis.reader.is_bg_name(value.func)

    def _holds_bg(self, value: ast.expr) -> bool:
        if isinstance(value, ast.BoolOp):
            return any(self._holds_bg(v) for v in value.values)
        if isinstance(value, ast.IfExp):
            return self._holds_bg(value.body) or self._holds_bg(value.orelse)
        return self._is_receiver(value)

    def _is_receiver(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.bg
        if not isinstance(node, ast.Attribute):
            return False
        owner = dotted(node.value)
        if owner == "self":
            return node.attr in self.attrs
        cls = self.scope.instances.get(owner or "")
        return cls is not None and matches(f"{cls}.{node.attr}", self.held_attrs)

    def _visit(self) -> None:
        for node, _, parent in self.nodes:
            if isinstance(node, ast.Call):
                self._call(node, parent)

    def _call(self, node: ast.Call, parent: ast.AST | None) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "add_task":
            if self._is_receiver(func.value) and _task_arguments(node):
                self.result.call_sites.append(self._call_site(node))
            return
        if self._constructs(node):
            in_response = isinstance(parent, ast.keyword) and parent.arg == "background"
            kind = "response_background" if in_response else "constructed"
            message = _RESPONSE if in_response else _CONSTRUCTED
            self.result.other_uses.append(OtherUse(kind, location(node), message))
            return
        if self.resolver.qualify(func) in SINGLE_TASK:
            text = ast.unparse(node.args[0]) if node.args else ""
            self.result.other_uses.append(OtherUse("single", location(node), _SINGLE.format(text)))
        self._keywords(node)
        self._passes(node)

    def _keywords(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg != "background":
                continue
            held = self._is_receiver(value) or (
                isinstance(value, ast.Name) and value.id in self.constructed
            )
            if held:
                self.result.attached = self.result.attached or self._is_receiver(value)
                self.result.other_uses.append(
                    OtherUse("response_background", location(value), _RESPONSE)
                )

    def _passes(self, node: ast.Call) -> None:
        callee = self._callee(node.func)
        if callee is None:
            return
        for index, arg in enumerate(node.args):
            if self._is_receiver(arg):
                self.result.passes.append(Pass(callee, index, None, self.qualname))
        for keyword in node.keywords:
            if keyword.arg and keyword.arg != "background" and self._is_receiver(keyword.value):
                self.result.passes.append(Pass(callee, -1, keyword.arg, self.qualname))

    def _callee(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Attribute):
            base = dotted(func.value)
            if base == "self" and self.scope.class_name:
                return self._local(f"{self.scope.class_name}.{func.attr}")
            if base in self.scope.instances:
                return f"{self.scope.instances[base]}.{func.attr}"
            if isinstance(func.value, ast.Call):
                owner = self.resolver.qualify(func.value.func)
                return f"{owner}.{func.attr}" if owner else None
        return self.resolver.qualify(func)

    def _local(self, qualname: str) -> str:
        module = self.analysis.module
        return f"{module}.{qualname}" if module else qualname

    def _call_site(self, node: ast.Call) -> RawCallSite:
        given = _task_arguments(node)
        index = wrapped_task(self.resolver, given)
        first = given[index]
        if isinstance(first, ast.Starred):
            task = TaskRef(CallableKind.DYNAMIC, None, ast.unparse(first))
        else:
            task = classify(self.resolver, self.scope, first)
        if index:
            task = dataclasses.replace(task, text=f"{ast.unparse(given[0])}({task.text}, ...)")
        keywords = [k.value for k in node.keywords if k.arg != "func" or node.args]
        rest = [*given[index + 1 :], *keywords]
        arguments = tuple(self._argument(node, arg) for arg in rest)
        return RawCallSite(location(node), self.qualname, task, arguments)

    def _argument(self, call: ast.Call, arg: ast.expr) -> Argument:
        if self._scoped is None:
            assert self.node is not None
            params = scoped_params(self.resolver, self.node.args)
            self._scoped = scoped_locals(self.resolver, self.body, params)
        name = arg.value if isinstance(arg, ast.Starred) else arg
        mutated = None
        if isinstance(name, ast.Name):
            mutated = mutation_after(self.nodes, name.id, call.end_lineno or call.lineno)
        return Argument(ast.unparse(arg), location(arg), argument_kind(arg, self._scoped), mutated)


def _task_arguments(node: ast.Call) -> list[ast.expr]:
    """``add_task``'s positional arguments, the callable first (also when given as ``func=``)."""
    if node.args:
        return list(node.args)
    return [k.value for k in node.keywords if k.arg == "func"]
